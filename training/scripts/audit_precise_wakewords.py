"""Checks what the Precise wake-word clips say with a recogniser trained on real speech.

Each clip of the Precise folders that hark uses as wake-word positives (computer, heycomputer)
or as hard negatives (athena, amelia, android, heychatterbox) is decoded twice by CMU
PocketSphinx's US English model (trained on real recorded speech, BSD licence; PyPI
``pocketsphinx``, which carries the model in its wheel, so nothing is downloaded): once with its
general language model (free decoding) and once as a forced choice between
``[hey] (computer | athena | amelia | android | chatter box | jarvis | commuter | compute |
hello | okay)``. A negative clip whose forced choice is "computer" is a clip that may say the wake
word; a positive whose forced choice is not is one that may not. The table is per folder label
and contributor.

An audit of the evaluation data, not part of training or of the product: it needs
``pip install pocketsphinx`` (about 29 MB), which no requirements file lists.

Usage (from training/): PYTHONPATH=. python scripts/audit_precise_wakewords.py DATA [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from hark_train import realdata as rd

FOLDERS = ["computer", "heycomputer", "athena", "amelia", "android", "heychatterbox"]
CHOICES = "computer | athena | amelia | android | chatter box | jarvis | commuter | compute"
GRAMMAR = f"""#JSGF V1.0;
grammar wakewords;
public <w> = [hey] ({CHOICES} | hello | okay);
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="the data folder (with precise/)")
    parser.add_argument("--json", type=Path, help="write each clip's decodings here")
    args = parser.parse_args()
    try:
        from pocketsphinx import Decoder
    except ImportError:
        print("needs PocketSphinx: pip install pocketsphinx", file=sys.stderr)
        return 2
    clips = rd.precise_wakewords(args.data, FOLDERS)
    if not clips:
        print(f"no Precise wake-word clips under {args.data}/precise", file=sys.stderr)
        return 2
    decoder = Decoder(samprate=rd.SAMPLE_RATE)
    decoder.add_jsgf_string("forced", GRAMMAR)
    free = decoder.current_search()
    rows = []
    for clip in clips:
        pcm = (np.clip(rd.load(clip), -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        row = {"path": clip.path, "label": clip.label, "group": clip.group}
        for search in (free, "forced"):
            decoder.activate_search(search)
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            hyp = decoder.hyp()
            row["free" if search == free else "forced"] = hyp.hypstr if hyp else ""
        rows.append(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    table: dict = defaultdict(Counter)
    for r in rows:
        key = (r["label"], r["group"])
        table[key]["clips"] += 1
        table[key]["forced computer"] += "computer" in r["forced"].split()
        table[key]["free has comput"] += "comput" in r["free"]
    print("| label | contributor | clips | forced choice 'computer' | free decoding has 'comput' |")
    print("|---|---|---|---|---|")
    for (label, group), c in sorted(table.items()):
        print(
            f"| {label} | {group} | {c['clips']} | {c['forced computer']} | "
            f"{c['free has comput']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
