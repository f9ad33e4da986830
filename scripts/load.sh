#!/usr/bin/env bash
# Load benchmark of the service: builds the server and loko-bench in Release, starts the server on free loopback
# ports with a temporary data directory and a fixed admin key, waits for /readyz, runs `loko-bench load` against it
# (arguments are passed on, e.g. --tenants 1,8 --examples 500 --out DIR), then stops the server.
#   LOKO_THREADS     LibTorch threads of both the server (LoKO:TorchThreads) and the bare step (--threads); unset: LibTorch's default
#   LOKO_MAX_TOKENS  token limit of both (LoKO:MaxTokens, --max-tokens); default 128, the server's default
#   LOKO_BATCH_TENANTS  K > 1: the server batches learning steps of up to K tenants (LoKO:BatchTenants:MaxTenants=K);
#                    unset, 0 or 1: off, the server's default. The report names the setting the server's /readyz gives.
#   LOKO_BATCH_WAIT_MS  with LOKO_BATCH_TENANTS: how long a ready step waits for others (LoKO:BatchTenants:MaxWaitMs);
#                    unset: the server's default (2 ms)
# The report's last stdout line is the JSON of all figures; the server's log is shown if it fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
threads="${LOKO_THREADS:-}"
max_tokens="${LOKO_MAX_TOKENS:-128}"
batch_tenants="${LOKO_BATCH_TENANTS:-}"
batch_wait_ms="${LOKO_BATCH_WAIT_MS:-}"
if [[ -n "$batch_tenants" && ! "$batch_tenants" =~ ^[0-9]+$ ]]; then
  echo "load.sh: LOKO_BATCH_TENANTS must be a number of tenants, got '$batch_tenants'" >&2
  exit 2
fi
if [[ -n "$batch_wait_ms" && -z "$batch_tenants" ]]; then
  echo "load.sh: LOKO_BATCH_WAIT_MS needs LOKO_BATCH_TENANTS" >&2
  exit 2
fi
admin_key="load-benchmark-admin-key"

tmp="$(mktemp -d)"
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap 'stop_server; rm -rf "$tmp"' EXIT

# A loopback port nothing listens on and not already in $chosen.
chosen=()
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    [[ " ${chosen[*]-} " == *" $port "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

target_path() { dotnet msbuild "$root/$1" -nologo -p:Configuration=Release -getProperty:TargetPath; }

echo "load.sh: building the server and loko-bench (Release)" >&2
dotnet build "$root/src/LoKO.Server" -c Release -nologo -v q >&2
dotnet build "$root/src/LoKO.Bench" -c Release -nologo -v q >&2
server_dll="$(target_path src/LoKO.Server/LoKO.Server.csproj)"
bench_dll="$(target_path src/LoKO.Bench/LoKO.Bench.csproj)"

rest_port="$(free_port)"; chosen+=("$rest_port")
grpc_port="$(free_port)"; chosen+=("$grpc_port")
silo_port="$(free_port)"; chosen+=("$silo_port")
gateway_port="$(free_port)"; chosen+=("$gateway_port")
server_args=(
  --urls "http://127.0.0.1:$rest_port"
  "--LoKO:GrpcUrl=http://127.0.0.1:$grpc_port"
  "--LoKO:DataDirectory=$tmp/data"
  "--LoKO:AdminKey=$admin_key"
  "--LoKO:MaxTokens=$max_tokens"
  # Only read by servers that host tenants as Orleans grains; ignored otherwise.
  "--LoKO:Orleans:SiloPort=$silo_port"
  "--LoKO:Orleans:GatewayPort=$gateway_port"
  "--Logging:LogLevel:Default=Warning"
)
if [[ -n "$threads" ]]; then server_args+=("--LoKO:TorchThreads=$threads"); fi
if [[ -n "$batch_tenants" && "$batch_tenants" -gt 0 ]]; then
  server_args+=("--LoKO:BatchTenants:MaxTenants=$batch_tenants")
  if [[ -n "$batch_wait_ms" ]]; then server_args+=("--LoKO:BatchTenants:MaxWaitMs=$batch_wait_ms"); fi
fi

echo "load.sh: starting the server (REST $rest_port, gRPC $grpc_port, data $tmp/data)" >&2
# From its own folder, so that it reads its appsettings.json.
(cd "$(dirname "$server_dll")" && exec dotnet "$server_dll" "${server_args[@]}") >"$tmp/server.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 1 240); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "load.sh: the server exited during startup; its log:" >&2
    tail -n 40 "$tmp/server.log" >&2
    exit 1
  fi
  if curl -fsS -o /dev/null "http://127.0.0.1:$rest_port/readyz" 2>/dev/null; then ready=1; break; fi
  sleep 0.5
done
if [[ -z "$ready" ]]; then
  echo "load.sh: the server was not ready within 120 s; its log:" >&2
  tail -n 40 "$tmp/server.log" >&2
  exit 1
fi

bench_args=(load --target "http://127.0.0.1:$rest_port" --grpc "http://127.0.0.1:$grpc_port" --admin-key "$admin_key" --max-tokens "$max_tokens")
if [[ -n "$threads" ]]; then bench_args+=(--threads "$threads"); fi
status=0
dotnet "$bench_dll" "${bench_args[@]}" "$@" || status=$?
if [[ $status -ne 0 ]]; then
  echo "load.sh: loko-bench load failed (exit $status); the server's log ends with:" >&2
  tail -n 20 "$tmp/server.log" >&2
fi
stop_server
exit "$status"
