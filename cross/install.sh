#!/usr/bin/env bash
# Installs hark as a systemd service on a Raspberry Pi (or any systemd Linux), in one step:
#
#   sudo cross/install.sh                      # from a checkout with a build, or an unpacked
#                                              # hark-<version>-<target>.tar.gz (cross/build.sh dist)
#   sudo cross/install.sh --binary PATH        # a hark binary from elsewhere
#   sudo cross/install.sh --prefix /usr        # default /usr/local
#   sudo cross/install.sh --no-start           # install and enable, start later
#   sudo cross/install.sh --uninstall [--purge]  # --purge also removes /etc/hark and /var/lib/hark
#
# What it does: the binary to PREFIX/bin/hark (stripped), the models to
# PREFIX/share/hark/models (where hark finds them), config/hark.toml to /etc/hark/hark.toml (an
# existing one is kept, the new one is written beside it as hark.toml.new), a system user `hark`
# in the `audio` group, and cross/hark.service to /etc/systemd/system/hark.service, enabled and
# started.
# DESTDIR=DIR installs into a staging tree instead (no user, no systemctl).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
prefix=/usr/local
binary=""
start=true
uninstall=false
purge=false
destdir=${DESTDIR:-}

die() {
    echo "install.sh: $*" >&2
    exit 1
}

while (($#)); do
    case $1 in
        --binary) binary=${2:?--binary needs a path}; shift ;;
        --prefix) prefix=${2:?--prefix needs a directory}; shift ;;
        --no-start) start=false ;;
        --uninstall) uninstall=true ;;
        --purge) purge=true ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

[[ -n $destdir || $(id -u) -eq 0 ]] || die "run as root (sudo $0 $*)"
have_systemd=false
[[ -z $destdir && -d /run/systemd/system ]] && have_systemd=true

unit=$destdir/etc/systemd/system/hark.service

if $uninstall; then
    if $have_systemd; then
        systemctl disable --now hark.service 2>/dev/null || true
    fi
    rm -f "$unit" "$destdir$prefix/bin/hark"
    rm -rf "$destdir$prefix/share/hark"
    $have_systemd && systemctl daemon-reload
    if $purge; then
        rm -rf "$destdir/etc/hark" "$destdir/var/lib/hark"
        [[ -z $destdir ]] && id hark >/dev/null 2>&1 && userdel hark
    fi
    if $purge; then
        echo "hark removed, with its configuration and state"
    else
        echo "hark removed (configuration kept in /etc/hark)"
    fi
    exit 0
fi

# The binary: --binary, an unpacked release (bin/hark), or this checkout's build for this CPU.
if [[ -z $binary ]]; then
    case $(uname -m) in
        aarch64 | arm64) triple=aarch64-unknown-linux-gnu ;;
        armv7l | armv8l) triple=armv7-unknown-linux-gnueabihf ;;
        *) triple="" ;;
    esac
    for candidate in "$root/bin/hark" ${triple:+"$root/target/cross/$triple/release/hark"} \
        ${triple:+"$root/target/$triple/release/hark"} "$root/target/release/hark"; do
        if [[ -x $candidate ]]; then
            binary=$candidate
            break
        fi
    done
    [[ -n $binary ]] || die "no hark binary found: build one (cargo build --release, or" \
        "cross/build.sh aarch64 on a PC) or give --binary PATH"
fi
[[ -x $binary ]] || die "$binary is not an executable"
if [[ -z $destdir ]]; then
    "$binary" --version >/dev/null 2>&1 ||
        die "$binary does not run on this machine ($(uname -m)): wrong target?"
fi
[[ -f $root/models/keyword.json ]] || die "no models in $root/models"
[[ -f $root/config/hark.toml ]] || die "no $root/config/hark.toml"
[[ -f $root/cross/hark.service ]] || die "no $root/cross/hark.service"

install -d "$destdir$prefix/bin" "$destdir$prefix/share/hark/models" "$destdir/etc/hark" \
    "$(dirname "$unit")"
install -m 0755 "$binary" "$destdir$prefix/bin/hark"
# Without its symbol table the binary is ~20% smaller; nothing at run time uses it. (A strip
# that does not know the binary's architecture, in a DESTDIR staging tree, leaves it whole.)
strip "$destdir$prefix/bin/hark" 2>/dev/null || true
# Each model is <name>.onnx + <name>.json (metadata) + <name>.md (its card).
for graph in "$root"/models/*.onnx; do
    for f in "$graph" "${graph%.onnx}.json" "${graph%.onnx}.md"; do
        [[ -e $f ]] && install -m 0644 "$f" "$destdir$prefix/share/hark/models/"
    done
done
config=$destdir/etc/hark/hark.toml
if [[ -e $config ]] && ! cmp -s "$root/config/hark.toml" "$config"; then
    install -m 0644 "$root/config/hark.toml" "$config.new"
    echo "kept your $config; the shipped defaults are in $config.new"
else
    install -m 0644 "$root/config/hark.toml" "$config"
fi
sed "s#^ExecStart=/usr/bin/hark #ExecStart=$prefix/bin/hark #" "$root/cross/hark.service" >"$unit"
chmod 0644 "$unit"

if [[ -z $destdir ]]; then
    if ! id hark >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /var/lib/hark --no-create-home \
            --shell /usr/sbin/nologin --comment "hark voice assistant" hark
    fi
    # For `sudo -u hark hark devices`; the service gets the group from its unit as well.
    getent group audio >/dev/null && usermod -a -G audio hark
    install -d -o hark -g hark -m 0750 /var/lib/hark
    "$prefix/bin/hark" check-config "$config" >/dev/null ||
        die "$config does not check (hark check-config $config)"
fi

if $have_systemd; then
    systemctl daemon-reload
    if $start; then
        systemctl enable --now hark.service
        echo "hark is running: systemctl status hark; journalctl -u hark -f"
    else
        systemctl enable hark.service
        echo "hark is enabled; start it with: systemctl start hark"
    fi
else
    echo "installed under ${destdir:-/}; systemd is not running here, so the service was not enabled"
fi
