# shellcheck shell=bash
# Environment for cross-building hark for a Raspberry Pi with Debian's own Rust toolchain.
#
#   . cross/env.sh aarch64     # Pi 3, 4, 5, Zero 2 W with a 64-bit OS (aarch64-unknown-linux-gnu)
#   . cross/env.sh armv7       # the same boards with a 32-bit OS (armv7-unknown-linux-gnueabihf)
#   "$HARK_CARGO" build --release --target "$HARK_TARGET"
#
# Debian 12's rustc-web / cargo-web (1.96, bookworm-security) with libstd-rust-web-dev:arm64 or
# :armhf provide the target's standard library, so nothing is downloaded by rustup (which cannot
# fetch targets on an offline builder); `cross/setup-debian.sh` installs them. Debian's compiler
# must build everything (a standard library only works with the compiler it was built by), so
# RUSTC points at /usr/bin/rustc even where rustup's cargo comes first on PATH.
#
# Built files go to target/cross/ (override with CARGO_TARGET_DIR), apart from the x86 ones.
# Programs run under qemu user emulation: `cargo test` / `cargo run` through the runner below,
# and binaries the tests start themselves through binfmt_misc (`cross/setup-debian.sh`
# registers it); QEMU_LD_PREFIX and QEMU_CPU reach both. The emulated CPU is a Cortex-A72 (Pi 4)
# by default, so tract sees the features of a Pi (NEON, no SVE, no fp16) and not those of qemu's
# "max" CPU; set QEMU_CPU=cortex-a53 for a Pi 3 / Zero 2 W, cortex-a76 for a Pi 5.

case "${1:-aarch64}" in
    aarch64 | arm64 | aarch64-unknown-linux-gnu)
        HARK_TARGET=aarch64-unknown-linux-gnu
        HARK_GNU=aarch64-linux-gnu
        HARK_DEB_ARCH=arm64
        HARK_QEMU=qemu-aarch64-static
        : "${QEMU_CPU:=cortex-a72}"
        ;;
    armv7 | armhf | armv7-unknown-linux-gnueabihf)
        HARK_TARGET=armv7-unknown-linux-gnueabihf
        HARK_GNU=arm-linux-gnueabihf
        HARK_DEB_ARCH=armhf
        HARK_QEMU=qemu-arm-static
        # qemu-arm has no Cortex-A72 model; the A15 is an ARMv7-A core with NEON and VFPv4, as a
        # Pi 2/3/4 offers in 32-bit mode.
        : "${QEMU_CPU:=cortex-a15}"
        ;;
    *)
        echo "cross/env.sh: unknown target '$1' (aarch64 or armv7)" >&2
        # shellcheck disable=SC2317 # exit when executed rather than sourced
        return 2 2>/dev/null || exit 2
        ;;
esac

HARK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HARK_CARGO=/usr/bin/cargo
HARK_TARGET_UPPER="$(echo "$HARK_TARGET" | tr 'a-z-' 'A-Z_')"
export HARK_TARGET HARK_GNU HARK_DEB_ARCH HARK_QEMU HARK_CARGO HARK_ROOT QEMU_CPU
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HARK_ROOT/target/cross}"
export "CARGO_TARGET_${HARK_TARGET_UPPER}_LINKER=${HARK_GNU}-gcc"
export "CARGO_TARGET_${HARK_TARGET_UPPER}_RUNNER=${HARK_QEMU}"
export QEMU_LD_PREFIX="/usr/${HARK_GNU}"
# cpal links ALSA: take the target's libasound from Debian multiarch (libasound2-dev:<arch>).
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_LIBDIR="/usr/lib/${HARK_GNU}/pkgconfig"
unset HARK_TARGET_UPPER
