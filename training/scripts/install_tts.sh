#!/usr/bin/env bash
# Installs the offline text-to-speech engines and voices that hark's synthetic training data uses
# (see training/hark_train/voices.py). Idempotent: safe to run again; installs only what is missing.
#
#   sudo bash training/scripts/install_tts.sh            # everything available
#   HARK_TTS_MINIMAL=1 bash training/scripts/install_tts.sh   # espeak-ng + flite only (main)
#
# mbrola voices and svox pico live in Debian's contrib / non-free components; this script adds
# those components to the Debian apt sources when they are missing, in either format:
#   deb822  /etc/apt/sources.list.d/*.sources   ("Components: main" -> "main contrib non-free")
#   classic /etc/apt/sources.list (and *.list)  ("deb URL suite main" -> "... main contrib non-free")
# Only entries that point at a Debian archive (debian.org / debian-security) are touched.
# Python side (Piper): pip install -r training/requirements-synth.txt
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive

changed=0

add_components_deb822() {
  local f=$1
  # Stanzas are separated by blank lines; edit the Components line of Debian stanzas only.
  if ! grep -qE '^URIs:.*debian' "$f"; then
    return
  fi
  local tmp
  tmp=$(mktemp)
  awk '
    function flush() {
      if (n == 0) return
      debian = 0
      for (i = 1; i <= n; i++) if (buf[i] ~ /^URIs:.*(debian\.org|debian-security|\/debian)/) debian = 1
      for (i = 1; i <= n; i++) {
        line = buf[i]
        if (debian && line ~ /^Components:/) {
          if (line !~ /(^|[ \t])contrib([ \t]|$)/) line = line " contrib"
          if (line !~ /(^|[ \t])non-free([ \t]|$)/) line = line " non-free"
        }
        print line
      }
      n = 0
    }
    /^[ \t]*$/ { flush(); print; next }
    { buf[++n] = $0 }
    END { flush() }
  ' "$f" >"$tmp"
  if ! cmp -s "$f" "$tmp"; then
    $SUDO cp "$f" "/var/backups/$(basename "$f").hark-bak"
    $SUDO cp "$tmp" "$f"
    echo "install_tts: added contrib/non-free to $f (backup in /var/backups)"
    changed=1
  fi
  rm -f "$tmp"
}

add_components_classic() {
  local f=$1
  local tmp
  tmp=$(mktemp)
  awk '
    /^[ \t]*deb(-src)?[ \t]/ && /(debian\.org|debian-security|\/debian[ \t\/])/ {
      line = $0
      if (line !~ /[ \t]contrib([ \t]|$)/) line = line " contrib"
      if (line !~ /[ \t]non-free([ \t]|$)/) line = line " non-free"
      print line; next
    }
    { print }
  ' "$f" >"$tmp"
  if ! cmp -s "$f" "$tmp"; then
    $SUDO cp "$f" "/var/backups/$(basename "$f").hark-bak"
    $SUDO cp "$tmp" "$f"
    echo "install_tts: added contrib/non-free to $f (backup in /var/backups)"
    changed=1
  fi
  rm -f "$tmp"
}

if [[ -z ${HARK_TTS_MINIMAL:-} ]]; then
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    add_components_deb822 "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] && add_components_classic "$f"
  done
  shopt -u nullglob
fi

# Refresh the package lists when the sources changed or were never fetched.
if [[ $changed -eq 1 ]] || [[ -z $(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial) ]] \
  || ! apt-cache show flite >/dev/null 2>&1; then
  $SUDO apt-get update -q
fi

# Engines and voices. Names that the archive does not have are skipped with a note.
wanted=(
  espeak-ng
  flite
)
if [[ -z ${HARK_TTS_MINIMAL:-} ]]; then
  wanted+=(
    # festival and its English voices
    festival festvox-kallpc16k festvox-kdlpc16k festvox-rablpc16k festvox-don festvox-us-slt-hts
    # mbrola (used through espeak-ng -v mb-*) : US/UK English voices ...
    mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1
    # ... and the voices behind espeak-ng's accented-English mb-XX-en voices
    mbrola-af1 mbrola-de1 mbrola-de2 mbrola-de3 mbrola-de4 mbrola-de5 mbrola-de6 mbrola-fr1
    mbrola-fr4 mbrola-gr2 mbrola-hu1 mbrola-nl2 mbrola-pl1 mbrola-ro1 mbrola-sw1 mbrola-sw2
    # svox pico (non-free)
    libttspico-utils
  )
fi

missing=()
for p in "${wanted[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    continue
  fi
  if apt-cache show "$p" >/dev/null 2>&1; then
    missing+=("$p")
  else
    echo "install_tts: note: package $p is not in the configured archive; skipped"
  fi
done

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install_tts: installing ${missing[*]}"
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install_tts: all available TTS packages already installed"
fi
