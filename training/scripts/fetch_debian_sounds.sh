#!/usr/bin/env bash
# Fetches real recorded sounds from Debian packages into DIR (a cache outside the repository),
# for negatives and noise in keyword training (loaded by hark_train.realdata.debian_sounds):
#   asterisk-core-sounds-en-wav   568 spoken English prompts (one speaker, 8 kHz)
#   asterisk-moh-opsound-wav      music on hold
#   hedgewars-data                voice lines in 16 voice packs, and music (ogg)
# Usage: bash training/scripts/fetch_debian_sounds.sh DIR
# Idempotent: a package already unpacked (DIR/.done-PKG) is not fetched again. Needs no root
# (apt-get download only fetches the .deb; nothing is installed). Layout afterwards:
#   DIR/debs/*.deb   DIR/root/usr/share/...   DIR/.done-PKG
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
mkdir -p "$dir/debs" "$dir/root"
dir=$(cd "$dir" && pwd)

packages=(asterisk-core-sounds-en-wav asterisk-moh-opsound-wav hedgewars-data)

for p in "${packages[@]}"; do
  if [[ -f $dir/.done-$p ]]; then
    echo "fetch_debian_sounds: $p already unpacked"
    continue
  fi
  if ! apt-cache show "$p" >/dev/null 2>&1; then
    echo "fetch_debian_sounds: $p is not in the apt lists; run 'apt-get update' (as root) first" >&2
    exit 1
  fi
  (cd "$dir/debs" && rm -f "${p}"_*.deb && apt-get download -q "$p")
  deb=$(ls "$dir/debs/${p}"_*.deb | head -n 1)
  dpkg-deb -x "$deb" "$dir/root"
  touch "$dir/.done-$p"
  echo "fetch_debian_sounds: unpacked $p"
done
du -sh "$dir/root" 2>/dev/null || true
