#!/usr/bin/env bash
# Builds hark for a Raspberry Pi with Debian's Rust toolchain (see cross/setup-debian.sh), and
# runs its tests under qemu.
#
#   cross/build.sh aarch64                 # release binary: target/cross/aarch64-unknown-linux-gnu/release/hark
#   cross/build.sh armv7                   # the same for 32-bit Pi OS
#   cross/build.sh aarch64 test [ARGS...]  # `cargo test` under qemu-aarch64 (ARGS go to cargo test)
#   cross/build.sh aarch64 deb             # + a .deb with cargo-deb (cargo install cargo-deb)
#   cross/build.sh aarch64 cargo ARGS...   # any cargo command in the cross environment
#
# Tests build with the dev profile (opt-level 1, no LTO): with the release profile's thin LTO
# every test binary is a whole-program link of tract, several times the build. tract's NEON
# kernels are assembly, as fast in either profile.
set -euo pipefail

target=${1:-aarch64}
action=${2:-build}
shift $(($# > 2 ? 2 : $#))

# shellcheck source=cross/env.sh
. "$(dirname "$0")/env.sh" "$target"
cd "$HARK_ROOT"

die() {
    echo "cross/build.sh: $*" >&2
    exit 1
}

[[ -x $HARK_CARGO && -x $RUSTC ]] ||
    die "Debian's rustc-web / cargo-web are missing: run cross/setup-debian.sh $target"
[[ -d $(/usr/bin/rustc --print sysroot)/lib/rustlib/$HARK_TARGET/lib ]] ||
    die "no standard library for $HARK_TARGET: run cross/setup-debian.sh $target"
command -v "${HARK_GNU}-gcc" >/dev/null || die "${HARK_GNU}-gcc is missing: run cross/setup-debian.sh $target"

binary="$CARGO_TARGET_DIR/$HARK_TARGET/release/hark"

report_size() {
    local stripped
    stripped=$(mktemp)
    "${HARK_GNU}-strip" -o "$stripped" "$binary"
    echo "hark for $HARK_TARGET: $binary"
    echo "  size: $(stat -c %s "$binary") bytes as built, $(stat -c %s "$stripped") bytes stripped"
    rm -f "$stripped"
}

case $action in
    build)
        "$HARK_CARGO" build --release --locked --target "$HARK_TARGET" --bin hark "$@"
        report_size
        ;;
    test)
        "$HARK_CARGO" test --locked --target "$HARK_TARGET" "$@"
        ;;
    deb)
        "$HARK_CARGO" build --release --locked --target "$HARK_TARGET" --bin hark
        command -v cargo-deb >/dev/null || die "cargo-deb is missing: cargo install cargo-deb"
        # cargo-deb strips with the target's binutils and reads the [package.metadata.deb] table.
        cargo-deb --no-build --target "$HARK_TARGET" "$@"
        ;;
    cargo)
        "$HARK_CARGO" "$@"
        ;;
    *)
        die "unknown action '$action' (build, test, deb, cargo)"
        ;;
esac
