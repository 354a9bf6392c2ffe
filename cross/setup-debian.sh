#!/usr/bin/env bash
# Installs what cross-building hark for a Raspberry Pi needs on a Debian 12 (bookworm) machine,
# from Debian's own archive only (works where rustup cannot fetch targets):
#
#   sudo cross/setup-debian.sh aarch64          # 64-bit Pi OS / Debian arm64
#   sudo cross/setup-debian.sh armv7            # 32-bit Pi OS / Debian armhf
#   sudo cross/setup-debian.sh aarch64 armv7
#
# For each target: the foreign dpkg architecture (multiarch), Debian's Rust 1.96 (`rustc-web`,
# `cargo-web`, from bookworm-security) with the target's standard library
# (`libstd-rust-web-dev:<arch>`, which must be the very same version as the compiler), the GNU
# cross compiler and linker, the target's ALSA (`libasound2-dev:<arch>`) for cpal, and qemu's
# user-mode emulator, registered with binfmt_misc so that programs the tests start run too.
#
# Exit status: 0 when every target asked for is ready; 3 when a target's packages cannot be had
# (then its dpkg architecture is removed again, so that `apt-get update` keeps working for the
# rest of the system); 1 on other errors.
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive

targets=("$@")
((${#targets[@]})) || targets=(aarch64)

log() { echo "cross/setup-debian: $*" >&2; }

apt_update() {
    # One broken index (a mirror caught mid-sync) makes apt-get update exit non-zero although
    # the other indexes were refreshed; what matters is whether the packages can be found.
    apt-get update -qq || log "warning: apt-get update reported errors (see above)"
}

# The candidate version of a package, or nothing.
candidate() {
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2 }'
}

register_binfmt() {
    local name=$1 conf=/usr/lib/binfmt.d/$1.conf dir=/proc/sys/fs/binfmt_misc
    [[ -e $dir/$name ]] && return 0
    [[ -e $dir/register ]] || mount -t binfmt_misc binfmt_misc "$dir" 2>/dev/null || true
    if [[ -r $conf && -w $dir/register ]] && cat "$conf" >"$dir/register" 2>/dev/null; then
        log "registered $name with binfmt_misc"
    fi
    [[ -e $dir/$name ]] || log "warning: could not register $name with binfmt_misc: tests that" \
        "start the hark binary themselves (cli, listen) cannot run"
}

host_packages=(rustc-web cargo-web libstd-rust-web-dev qemu-user-static pkg-config)
missing=()
for p in "${host_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    apt_update
    apt-get install -y -qq "${missing[@]}" || {
        log "cannot install ${missing[*]}"
        exit 1
    }
fi
rust_version=$(dpkg-query -W -f '${Version}' rustc-web)
log "Debian Rust: $rust_version ($(/usr/bin/rustc --version))"

status=0
for t in "${targets[@]}"; do
    case $t in
        aarch64 | arm64) arch=arm64 gnu=aarch64-linux-gnu qemu=qemu-aarch64 ;;
        armv7 | armhf) arch=armhf gnu=arm-linux-gnueabihf qemu=qemu-arm ;;
        *)
            log "unknown target '$t' (aarch64 or armv7)"
            exit 1
            ;;
    esac
    std="libstd-rust-web-dev:$arch"
    had_arch=false
    dpkg --print-foreign-architectures | grep -qx "$arch" && had_arch=true
    if dpkg -s "$std" >/dev/null 2>&1 && [[ $(dpkg-query -W -f '${Version}' "$std") == "$rust_version" ]] &&
        dpkg -s "gcc-$gnu" "libasound2-dev:$arch" >/dev/null 2>&1; then
        log "$t: already set up"
        register_binfmt "$qemu"
        continue
    fi
    $had_arch || dpkg --add-architecture "$arch"
    apt_update
    if [[ $(candidate "$std") != "$rust_version" ]]; then
        log "$t: $std $rust_version is not available from the configured mirrors" \
            "(candidate: '$(candidate "$std")'; Debian's 1.85 is too old for tract, and a" \
            "different version than the compiler's cannot work). Skipping $t."
        if ! $had_arch && ! dpkg -l | awk '{print $2}' | grep -q ":$arch\$"; then
            dpkg --remove-architecture "$arch" && apt_update
        fi
        status=3
        continue
    fi
    if ! apt-get install -y -qq "gcc-$gnu" "libc6-dev-$arch-cross" "$std=$rust_version" \
        "libasound2-dev:$arch"; then
        log "$t: installing its packages failed. Skipping $t."
        status=3
        continue
    fi
    register_binfmt "$qemu"
    log "$t: ready"
done
exit $status
