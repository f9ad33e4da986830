#!/usr/bin/env bash
# The device check: everything the GPU worker is measured by, as JSON files in --out DIR.
#   scripts/device-check.sh --out DIR [--cpu] [--quick] [--no-build] [--device cuda:N] [--load-examples N]
# On a GPU host (from an unpacked scripts/device-bundle.sh bundle, no .NET needed) it runs against the PyTorch CUDA
# libraries the host's python3 finds (torch/lib); --cpu runs the same checks on the CPU against the NuGet libtorch-cpu
# (in the repository: the Debug builds; in a bundle: that LibTorch loaded through LOKO_LIBTORCH_DIR).
#   symbols.json      every at::/c10::/torch:: symbol libLibTorchSharp.so imports, checked against the LibTorch's exports
#   agree.json        forward and filter steps on the device against the CPU (loko-bench agree)
#   speed.jsonl       loko-bench speed rows, C = 2 and 10, minilm-l6, resnet18, synthetic-bert-base (each has "device")
#   load/load.json    loko-bench load against the server on the device, 1, 8 and 64 tenants
#   device-check.json the summary; the last stdout line is the same JSON
# --quick: few steps, C = 2 only, no synthetic-bert-base, 1 and 2 tenants (for CI). Exit 0 only when every check passed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="" cpu="" quick="" build=1 device="" load_examples=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --cpu) cpu=1; shift ;;
    --quick) quick=1; shift ;;
    --no-build) build=""; shift ;;
    --device) device="$2"; shift 2 ;;
    --load-examples) load_examples="$2"; shift 2 ;;
    *) echo "device-check.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || { echo "device-check.sh: --out DIR is required" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
log() { echo "device-check: $*" >&2; }
fail() { echo "device-check: $*" >&2; exit 1; }

# Where the programs are: a bundle (app/ beside this script) or the repository (its Debug builds, run with dotnet).
if [[ -x "$here/app/loko-bench" ]]; then
  mode=bundle
  app="$here/app"
  bench() { "$app/loko-bench" "$@"; }
  server_dir="$app"
  server_cmd=("$app/LoKO.Server")
  export LOKO_MODEL_ASSETS="${LOKO_MODEL_ASSETS:-$here/models}"
  export LOKO_DATA_DIR="${LOKO_DATA_DIR:-$here/data}"
else
  mode=repository
  root="$(cd "$here/.." && pwd)"
  if [[ -n "$build" ]]; then
    log "building loko-bench and the server (Debug)"
    dotnet build "$root/src/LoKO.Bench" -c Debug -nologo -v q >&2
    dotnet build "$root/src/LoKO.Server" -c Debug -nologo -v q >&2
  fi
  target() { dotnet msbuild "$root/$1" -nologo -p:Configuration=Debug -getProperty:TargetPath; }
  bench_dll="$(target src/LoKO.Bench/LoKO.Bench.csproj)"
  server_dll="$(target src/LoKO.Server/LoKO.Server.csproj)"
  app="$(dirname "$bench_dll")"
  bench() { dotnet "$bench_dll" "$@"; }
  server_dir="$(dirname "$server_dll")"
  server_cmd=(dotnet "$server_dll")
fi

# The LibTorch to run on.
if [[ -n "$cpu" ]]; then
  device="${device:-cpu}"
  nuget="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
  lib="$(ls -d "$nuget"/libtorch-cpu-linux-x64/*/runtimes/linux-x64/native 2>/dev/null | sort | tail -n 1 || true)"
  [[ -d "$lib" ]] || fail "no libtorch-cpu-linux-x64 package under $nuget (restore the solution once)"
  # The repository's builds carry that LibTorch in their folders; a bundle has none and loads it from there.
  if [[ "$mode" == bundle ]]; then export LOKO_LIBTORCH_DIR="$lib"; fi
  libs=(libc10.so libtorch_cpu.so libtorch.so)
else
  device="${device:-cuda}"
  command -v python3 >/dev/null || fail "python3 is not on PATH: it is how the PyTorch CUDA libraries are found"
  torch_dir="$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')" || fail "python3 cannot import torch"
  lib="$torch_dir/lib"
  export LOKO_LIBTORCH_DIR="$lib"
  libs=(libc10.so libtorch_cpu.so libc10_cuda.so libtorch_cuda.so libtorch.so)
fi
for l in "${libs[@]}"; do [[ -f "$lib/$l" ]] || fail "$lib holds no $l"; done
log "$mode mode, device $device, LibTorch $lib, results in $out"

# 1. Symbols: what libLibTorchSharp.so (built against LibTorch 2.10) imports from LibTorch must be there.
sharp="$app/libLibTorchSharp.so"
[[ -f "$sharp" ]] || sharp="$(ls "$app"/runtimes/linux-x64/native/libLibTorchSharp.so 2>/dev/null || true)"
[[ -f "$sharp" ]] || fail "no libLibTorchSharp.so in $app"
symbols_pass=false
if command -v nm >/dev/null && command -v c++filt >/dev/null; then
  tmp="$(mktemp -d)"
  # Strong imports only ("U"): a weak one ("w", e.g. a TLS init function) may be absent by design.
  nm -D --undefined-only --format=posix "$sharp" | awk '$2 == "U" {print $1}' | sed 's/@.*//' | sort -u >"$tmp/undefined"
  c++filt <"$tmp/undefined" >"$tmp/demangled"
  paste "$tmp/undefined" "$tmp/demangled" | awk -F'\t' '$2 ~ /(^|[^A-Za-z0-9_])(at|c10|torch)::/ {print $1}' | sort -u >"$tmp/needed"
  for l in "${libs[@]}"; do nm -D --defined-only --format=posix "$lib/$l" | awk '{print $1}' | sed 's/@.*//'; done | sort -u >"$tmp/defined"
  comm -23 "$tmp/needed" "$tmp/defined" >"$tmp/missing"
  needed=$(wc -l <"$tmp/needed"); missing=$(wc -l <"$tmp/missing")
  [[ "$missing" -eq 0 ]] && symbols_pass=true
  python3 - "$tmp/missing" "$needed" "$symbols_pass" "$sharp" "$lib" >"$out/symbols.json" <<'PY'
import json, sys
missing = [l.strip() for l in open(sys.argv[1]) if l.strip()]
print(json.dumps({"method": "nm", "library": sys.argv[4], "libtorch": sys.argv[5], "needed": int(sys.argv[2]),
                  "missing": len(missing), "missingSymbols": missing[:200], "pass": sys.argv[3] == "true"}))
PY
  rm -rf "$tmp"
  log "symbols: $needed at::/c10::/torch:: imports, $missing missing"
else
  # No binutils: bind every symbol at load instead; a missing one fails the load, naming it.
  if LD_BIND_NOW=1 bench agree --device cpu --presets resnet18 --steps 1 --variants paper --image-size 32 >/dev/null 2>"$out/bind-now.log"; then symbols_pass=true; fi
  python3 -c 'import json,sys;print(json.dumps({"method":"ld-bind-now","libtorch":sys.argv[1],"pass":sys.argv[2]=="true","log":open(sys.argv[3]).read()[-2000:]}))' \
    "$lib" "$symbols_pass" "$out/bind-now.log" >"$out/symbols.json"
  log "symbols: nm or c++filt missing; LD_BIND_NOW=1 load $([[ $symbols_pass == true ]] && echo passed || echo FAILED)"
fi

# 2. Agreement of the forward and the filter steps with the CPU.
steps=20; [[ -n "$quick" ]] && steps=3
agree_pass=false
if bench agree --device "$device" --steps "$steps" >"$out/agree.json.tmp" 2>"$out/agree.log"; then agree_pass=true; fi
tail -n 1 "$out/agree.json.tmp" >"$out/agree.json"; rm -f "$out/agree.json.tmp"
cat "$out/agree.log" >&2

# 3. Speed rows.
if [[ -n "$quick" ]]; then presets=(minilm-l6 resnet18); classes=(2); speed_steps=2
else presets=(minilm-l6 resnet18 synthetic-bert-base); classes=(2 10); speed_steps=20; fi
: >"$out/speed.jsonl"
speed_pass=true
for p in "${presets[@]}"; do
  for c in "${classes[@]}"; do
    if bench speed --preset "$p" --classes "$c" --steps "$speed_steps" --device "$device" >"$out/speed.tmp" 2>>"$out/speed.log"; then
      tail -n 1 "$out/speed.tmp" >>"$out/speed.jsonl"
      log "speed: $(tail -n 1 "$out/speed.tmp")"
    else
      speed_pass=false
      log "speed: $p at C = $c failed; see $out/speed.log"
    fi
  done
done
rm -f "$out/speed.tmp"

# 4. The server on the device under load.
admin_key="device-check-admin-key"
data="$(mktemp -d)"
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=""
}
trap 'stop_server; rm -rf "$data"' EXIT
chosen=()
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    [[ " ${chosen[*]-} " == *" $port "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
}
rest="$(free_port)"; chosen+=("$rest"); grpc="$(free_port)"; chosen+=("$grpc")
silo="$(free_port)"; chosen+=("$silo"); gateway="$(free_port)"; chosen+=("$gateway")
# exec: the server is the process the trap stops (it must not outlive the check holding inherited descriptors).
(cd "$server_dir" && exec "${server_cmd[@]}" --urls "http://127.0.0.1:$rest" "--LoKO:GrpcUrl=http://127.0.0.1:$grpc" \
  "--LoKO:DataDirectory=$data/data" "--LoKO:AdminKey=$admin_key" "--LoKO:Device=$device" \
  "--LoKO:Orleans:SiloPort=$silo" "--LoKO:Orleans:GatewayPort=$gateway" "--Logging:LogLevel:Default=Warning") >"$out/server.log" 2>&1 &
server_pid=$!
ready=""
for _ in $(seq 1 240); do
  kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$out/server.log" >&2; fail "the server exited during startup (log: $out/server.log)"; }
  if python3 -c 'import sys,urllib.request;urllib.request.urlopen(sys.argv[1],timeout=2)' "http://127.0.0.1:$rest/readyz" 2>/dev/null; then ready=1; break; fi
  sleep 0.5
done
[[ -n "$ready" ]] || fail "the server was not ready within 120 s (log: $out/server.log)"
python3 -c 'import sys,urllib.request;print(urllib.request.urlopen(sys.argv[1]).read().decode())' "http://127.0.0.1:$rest/readyz" >"$out/readyz.json"
log "server ready on $device: $(cat "$out/readyz.json")"
if [[ -n "$quick" ]]; then load_args=(--tenants 1,2 --examples "${load_examples:-6}" --predicts 5 --bare-steps 2)
else load_args=(--tenants 1,8,64 --examples "${load_examples:-100}"); fi
load_pass=false
if bench load --target "http://127.0.0.1:$rest" --grpc "http://127.0.0.1:$grpc" --admin-key "$admin_key" --device "$device" \
     "${load_args[@]}" --out "$out/load" >"$out/load.stdout" 2>"$out/load.log"; then load_pass=true; fi
tail -n 3 "$out/load.log" >&2
stop_server

python3 - "$out" "$mode" "$device" "$lib" "$symbols_pass" "$agree_pass" "$speed_pass" "$load_pass" "${quick:+quick}" >"$out/device-check.json" <<'PY'
import json, os, sys
out, mode, device, lib = sys.argv[1:5]
passed = dict(zip(["symbols", "agree", "speed", "load"], [v == "true" for v in sys.argv[5:9]]))
def read(name):
    try:
        with open(os.path.join(out, name)) as f: return json.loads(f.read())
    except (OSError, ValueError): return None
speed = []
if os.path.exists(os.path.join(out, "speed.jsonl")):
    speed = [json.loads(l) for l in open(os.path.join(out, "speed.jsonl")) if l.strip()]
summary = {"mode": mode, "device": device, "libtorch": lib, "quick": sys.argv[9] == "quick" if len(sys.argv) > 9 else False,
           "checks": passed, "symbols": read("symbols.json"), "agree": read("agree.json"), "speed": speed,
           "readyz": read("readyz.json"), "load": read("load/load.json"), "pass": all(passed.values())}
print(json.dumps(summary))
PY
cat "$out/device-check.json"
python3 -c 'import json,sys;sys.exit(0 if json.load(open(sys.argv[1]))["pass"] else 1)' "$out/device-check.json"
