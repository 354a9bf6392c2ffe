#!/usr/bin/env bash
# Rebuilds the shipped keyword model (models/keyword.*) in two stages of the same recipe:
#
#   bash training/scripts/build_keyword.sh DATA OUT [WORK]
#
# 1. 4,538 steps from scratch with the wide voice and microphone augmentation (--voice-spread);
# 2. 4,538 more from those weights with a fresh cosine schedule from 1e-3, then the evaluation,
#    the export, the model card and the DET plot into OUT;
# 3. the phoneme verification of the wake words (a few minutes).
#
# Synthesis and the augmentation bank are cached in WORK (default ~/.cache/hark/keyword) and
# shared by both stages; each stage takes about 15-20 minutes of one core here.
set -euo pipefail
data=${1:?usage: build_keyword.sh DATA OUT [WORK]}
out=${2:?usage: build_keyword.sh DATA OUT [WORK]}
work=${3:-$HOME/.cache/hark/keyword}
cd "$(dirname "$0")/../.."
export PYTHONPATH=training OMP_NUM_THREADS=1
stage1="$(mktemp -d)"
trap 'rm -rf "$stage1"' EXIT
python -m hark_train keyword --data "$data" --out "$stage1" --work "$work" --voice-spread \
    --steps 4538 --run-name stage1
python -m hark_train keyword --data "$data" --out "$out" --work "$work" --voice-spread \
    --init "$work/keyword-s0-stage1.pt" --steps 4538 --lr 1e-3 --run-name stage2
# 3. Phoneme verification of the wake words (models/keyword.md, "Second stage") with the wake-word
#    phoneme recogniser phonemes-wake.onnx, from OUT or else from models/ (see its card: it is
#    the recogniser `python -m hark_train phonemes` built at commit ccd3e91; a recogniser of
#    today's recipe can be used instead with --recogniser phonemes).
phonemes="$out"
[ -f "$out/phonemes-wake.onnx" ] || phonemes=models
python -m hark_train keyword-verify --model-dir "$out" --phonemes "$phonemes" --data "$data" \
    --work "$work" --recogniser phonemes-wake
