#!/usr/bin/env bash
# Learned examples/s of 8 tenants on a cluster of 1, 2 and 3 silos on one PostgreSQL, through `loko-bench load`
# against the first server (the tenants' grains spread over the silos):
#   scripts/cluster-bench.sh "CONNECTION STRING" OUT_DIR [SILO_COUNTS] [EXAMPLES]
# CONNECTION STRING: a PostgreSQL role that may create databases (e.g. what scripts/test-postgres.sh prints).
# Builds nothing: run `dotnet build src/LoKO.Server` and `dotnet build src/LoKO.Bench` first.
set -euo pipefail
connection="$1"; out="$(mkdir -p "$2" && cd "$2" && pwd)"; counts="${3:-1 2 3}"; examples="${4:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
server="$(ls "$root"/src/LoKO.Server/bin/Debug/net10.0/*/LoKO.Server.dll | head -n 1)"
bench="$(ls "$root"/src/LoKO.Bench/bin/Debug/net10.0/*/loko-bench.dll | head -n 1)"
admin=bench-admin-key
pids=()
stop() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; pids=(); }
trap stop EXIT

for silos in $counts; do
  db="loko_bench_${silos}_$RANDOM"
  psql "$(sed 's/;/ /g; s/Host=/host=/; s/Port=/port=/; s/Username=/user=/; s/Password=/password=/' <<<"$connection") dbname=postgres" -qc "CREATE DATABASE $db"
  for ((i = 0; i < silos; i++)); do
    mkdir -p "$out/$silos/node$i"
    dotnet "$server" --urls "http://127.0.0.1:$((5600 + i))" --LoKO:GrpcUrl="http://127.0.0.1:$((5700 + i))" \
      --LoKO:Orleans:SiloPort=$((11600 + i)) --LoKO:Orleans:GatewayPort=$((30600 + i)) \
      --LoKO:Orleans:Clustering=postgres --LoKO:Orleans:AdvertisedAddress=127.0.0.1 --LoKO:Orleans:ClusterId="bench$silos" \
      --LoKO:Database:Provider=postgres "--LoKO:Database:ConnectionString=$connection;Database=$db" \
      --LoKO:AdminKey=$admin --LoKO:DataDirectory="$out/$silos/node$i" --LoKO:MaxTokens=32 --LoKO:TorchThreads=1 \
      --Logging:LogLevel:Default=Warning >"$out/$silos/node$i.log" 2>&1 &
    pids+=($!)
  done
  for ((i = 0; i < silos; i++)); do
    until curl -sf "http://127.0.0.1:$((5600 + i))/readyz" >/dev/null; do
      kill -0 "${pids[$i]}" 2>/dev/null || { echo "node$i exited: see $out/$silos/node$i.log" >&2; exit 1; }
      sleep 1
    done
  done
  dotnet "$bench" load --target http://127.0.0.1:5600 --grpc http://127.0.0.1:5700 --admin-key $admin --tenants 8 \
    --examples "$examples" --predicts 20 --bare-steps 10 --max-tokens 32 --threads 1 --out "$out/$silos/report" 2>"$out/$silos/bench.log"
  stop
done
