#!/usr/bin/env bash
# The cost of the epoch check on one append, on PostgreSQL: pgbench runs the append transaction of one example
# (idempotency key + log entry, as TenantActor.Log.cs commits it) with and without the check that fences a stale
# activation (UPDATE tenants … WHERE "Epoch" = @epoch, first in the transaction), on the store's own tables.
#   scripts/epoch-check-cost.sh "CONNECTION STRING" DATABASE [SECONDS]
# DATABASE: a LoKO metadata store (migrated; any tenant rows are left alone). Prints the mean latency of each.
set -euo pipefail
connection="$1"; database="$2"; seconds="${3:-20}"
pg="$(sed 's/;/ /g; s/Host=/host=/; s/Port=/port=/; s/Username=/user=/; s/Password=/password=/' <<<"$connection") dbname=$database"
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
psql "$pg" -qc "INSERT INTO tenants (\"TenantId\", \"Preset\", \"LabelsJson\", \"Optimizer\", \"LoraJson\", \"FilterJson\", \"ApiKeyHash\", \"Seed\",
  \"CheckpointVersion\", \"NextCheckpointVersion\", \"CreatedUtc\", \"Frozen\", \"Epoch\")
  VALUES ('epoch-bench', 'minilm-l6', '[\"a\",\"b\"]', 'loko', '{}', '{}', md5(random()::text), 1, 0, 1, now(), false, 7)"
append='INSERT INTO example_ids ("TenantId", "ExampleId", "Sequence") VALUES ('"'"'epoch-bench'"'"', md5(random()::text), nextval('"'"'epoch_bench_seq'"'"'));
INSERT INTO examples ("TenantId", "Sequence", "PayloadKind", "Payload", "Width", "Height", "Label", "LabelIndex", "Applied", "RolledBack", "AcceptedUtc")
  VALUES ('"'"'epoch-bench'"'"', currval('"'"'epoch_bench_seq'"'"'), 1, '"'"'\x68656c6c6f20776f726c64'"'"', 0, 0, '"'"'a'"'"', 0, false, false, now());'
psql "$pg" -qc "CREATE SEQUENCE IF NOT EXISTS epoch_bench_seq"
printf 'BEGIN;\n%s\nCOMMIT;\n' "$append" >"$work/plain.sql"
printf 'BEGIN;\nUPDATE tenants SET "Epoch" = 7 WHERE "TenantId" = '"'"'epoch-bench'"'"' AND "Epoch" = 7;\n%s\nCOMMIT;\n' "$append" >"$work/fenced.sql"
for kind in plain fenced plain fenced; do
  latency=$(PGOPTIONS='-c client_min_messages=warning' "$bin/pgbench" "$pg" -n -c 1 -T "$seconds" -f "$work/$kind.sql" 2>/dev/null | sed -n 's/^latency average = \(.*\) ms$/\1/p')
  echo "$kind: $latency ms per append transaction"
done
psql "$pg" -qc "DELETE FROM tenants WHERE \"TenantId\" = 'epoch-bench'; DROP SEQUENCE epoch_bench_seq"
