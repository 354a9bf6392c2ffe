#!/usr/bin/env bash
# What hark's always-on path costs on a Raspberry Pi, measured without one: the aarch64 build runs
# under qemu user emulation with a plugin counting every guest instruction executed
# (cross/cost/insn-count.c), over two lengths of the same 48 kHz audio, so that start-up (model
# loading, tract's optimisation) cancels out of the per-second figure:
#
#   instructions per second of audio = (count(long) - count(short)) / (long - short)
#
# The path measured is `hark listen --mode keyword --jobs 1`: WAV decoding, resampling 48 -> 16 kHz,
# the MFCC front-end and the streaming keyword model, on one thread: what `hark run` does all day
# with a 48 kHz USB microphone, with WAV decoding in place of ALSA capture.
#
#   cross/cost/measure.sh [SHORT_S LONG_S]        (default 60 660)
#
# The sample is spoken every 6 s (2.4 s of speech, 3.6 s of quiet noise): the keyword model
# pauses in the quiet stretches ([keyword] pause_in_silence). The 48 kHz input is measured with
# the pause on and off, the 16 kHz one with it on. HARK_COST_RATES="48000" skips the 16 kHz run.
#
# Needs: an aarch64 build (cross/build.sh aarch64), Debian's qemu-user (the dynamic build: the
# static one cannot load plugins; apt-get install --no-install-recommends qemu-user), gcc, python3
# with numpy.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=cross/env.sh
. cross/env.sh aarch64

short=${1:-60}
long=${2:-660}
hark="$CARGO_TARGET_DIR/$HARK_TARGET/release/hark"
work=${TMPDIR:-/tmp}/hark-cost
mkdir -p "$work"
[[ -x $hark ]] || { echo "no $hark: run cross/build.sh aarch64" >&2; exit 1; }
command -v qemu-aarch64 >/dev/null || { echo "qemu-aarch64 (package qemu-user) is missing" >&2; exit 1; }

gcc -O2 -shared -fPIC -fvisibility=hidden -Wall -Wextra -o "$work/insn-count.so" cross/cost/insn-count.c

# Speech-like audio: the shipped sample (a wake word and a command) every 6 s with quiet noise in
# between, at 48 kHz (and 16 kHz, to separate the resampler's share).
python3 - "$work" "$short" "$long" <<'EOF'
import sys, wave
import numpy as np

work, lengths = sys.argv[1], [int(s) for s in sys.argv[2:]]
with wave.open("tests/fixtures/frontend/speech.wav") as w:
    assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
    speech = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768
rng = np.random.default_rng(0)
for rate in (16000, 48000):
    period = 6 * 16000
    unit = np.zeros(period)
    unit[: len(speech)] = speech
    for seconds in lengths:
        x16 = np.tile(unit, seconds // 6 + 1)[: seconds * 16000]
        t16 = np.arange(len(x16)) / 16000
        t = np.arange(seconds * rate) / rate
        x = np.interp(t, t16, x16) + 0.003 * rng.standard_normal(len(t))
        pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
        with wave.open(f"{work}/stream-{rate}-{seconds}.wav", "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(pcm.tobytes())
EOF

printf '[keyword]\npause_in_silence = true\n' >"$work/pause-on.toml"
printf '[keyword]\npause_in_silence = false\n' >"$work/pause-off.toml"

count() {
    # qemu prints the plugin's "insns: N" with -d plugin; hark's events go to stdout.
    local log="$work/qemu.log"
    HARK_CONFIG="$work/pause-$pause.toml" \
        QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 -cpu "$QEMU_CPU" \
        -plugin "$work/insn-count.so" -d plugin -D "$log" \
        "$hark" listen --mode keyword --jobs 1 "$1" >"$work/events.txt"
    awk '/^insns:/ { print $2 }' "$log"
}

echo "hark $($hark --version 2>/dev/null | awk '{print $2}' || true), emulated CPU: $QEMU_CPU"
for run in ${HARK_COST_RATES:-48000 16000} 48000-off; do
    rate=${run%-off}
    pause=on
    [[ $run == *-off ]] && pause=off
    a=$(count "$work/stream-$rate-$short.wav")
    b=$(count "$work/stream-$rate-$long.wav")
    per_s=$(((b - a) / (long - short)))
    echo "input $rate Hz, keyword model paused in silence: $pause; ${short} s: $a instructions," \
        "${long} s: $b instructions; $per_s instructions per second of audio"
    # Share of one core at an assumed IPC (instructions per cycle) and clock.
    for cpu in "Pi 4 (Cortex-A72) 1.5 GHz:1.5" "Pi 4 (Cortex-A72) 1.8 GHz:1.8" \
        "Pi 3 / Zero 2 W (Cortex-A53) 1.0 GHz:1.0"; do
        ghz=${cpu##*:}
        for ipc in 0.5 1.0 1.5; do
            awk -v n="$per_s" -v f="$ghz" -v ipc="$ipc" -v name="${cpu%:*}" \
                'BEGIN { printf "  %-40s IPC %.1f: %.3f%% of one core\n", name, ipc, 100 * n / (ipc * f * 1e9) }'
        done
    done
done
