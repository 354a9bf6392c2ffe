"""Where a hark binary's size goes: code and read-only data per crate, from the symbol table.

    python3 cross/cost/crate-sizes.py target/cross/aarch64-unknown-linux-gnu/release/hark \
        [--nm aarch64-linux-gnu-nm] [--top 30]

Needs the binary as cargo built it (release strips debug info only, so symbols are there).
A generic function is counted under the crate that defines it (ndarray, smallvec, core), not
under the crate that instantiated it, so tract's share is larger than its own crates' lines.
"""

import argparse
import collections
import re
import subprocess


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    out = subprocess.run(
        [args.nm, "-C", "-S", "--size-sort", args.binary],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sizes: collections.Counter[str] = collections.Counter()
    total = 0
    path = re.compile(r"^<?(?:[A-Za-z_]\w*\s+as\s+)?([A-Za-z_]\w*)::")
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) < 4 or parts[2] not in "tTrR":
            continue
        size = int(parts[1], 16)
        m = path.match(parts[3])
        sizes[m.group(1) if m else "(unnamed, C, asm)"] += size
        total += size
    print(f"{total / 1e6:8.2f} MB  code + read-only data in named symbols")
    for crate, size in sizes.most_common(args.top):
        print(f"{size / 1e6:8.2f} MB  {100 * size / total:5.1f}%  {crate}")


if __name__ == "__main__":
    main()
