"""Puts training/ on sys.path so that hark_train imports without installing the package,
whether pytest runs from training/ or from the repository root."""

import sys
from pathlib import Path

_TRAINING = str(Path(__file__).resolve().parent)
if _TRAINING not in sys.path:
    sys.path.insert(0, _TRAINING)
