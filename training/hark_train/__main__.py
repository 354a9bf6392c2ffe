"""Command line: ``python -m hark_train fixtures [--out DIR] [--force-audio]``.

Without installing the package, run it from the repository root as
``PYTHONPATH=training python -m hark_train fixtures --out tests/fixtures/frontend``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hark_train")
    sub = parser.add_subparsers(dest="command", required=True)
    fx = sub.add_parser("fixtures", help="regenerate the front-end golden fixtures")
    fx.add_argument(
        "--out",
        type=Path,
        default=None,
        help="fixture folder (default: <repo>/tests/fixtures/frontend)",
    )
    fx.add_argument(
        "--force-audio",
        action="store_true",
        help="remake the WAVs too (needs espeak-ng; changes every fixture)",
    )
    args = parser.parse_args(argv)

    if args.command == "fixtures":
        from .fixtures import DEFAULT_OUT, generate

        out = args.out if args.out is not None else DEFAULT_OUT
        written = generate(out, force_audio=args.force_audio)
        total = sum(p.stat().st_size for p in written)
        print(f"wrote {len(written)} files to {out} ({total / 1024:.0f} KiB)")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
