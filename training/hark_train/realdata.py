"""Loaders for real recordings: keyword validation, hard negatives and noise.

Every loader returns a list of ``Clip(path, label, group, text)``:

``label``  a keyword (``computer``), a digit word (FSDD: ``zero`` .. ``nine``), another wake word
           (``athena``...), ``_negative_`` (speech without a keyword) or ``_noise_`` (noise/music)
``group``  the speaker or recording group, so later code can split by speaker (never the same
           speaker in train and test)
``text``   what is said, where known ("" otherwise), to filter with ``texts.contains_keyword``

Read any of them with ``load(clip)`` (soundfile, mono, resampled to 16 kHz). Sources:

- ``HARK_DATA/precise``: Mycroft Precise community data. Speakers are unknown; the group is the
  contributor whose licence file lists the clip (e.g. ``el-tocino``, ``krisgesling``), for the
  ``android`` clips the user hash in the file name.
- ``HARK_DATA/fsdd``: Free Spoken Digit Dataset, ``<digit>_<speaker>_<take>.flac``, 8 kHz.
- ``HARK_DATA/noise/speech_commands``: Speech Commands background noise.
- Debian sound packages unpacked by ``training/scripts/fetch_debian_sounds.sh DIR``
  (``debian_sounds(DIR)``): asterisk prompts (one speaker, 8 kHz), asterisk music on hold,
  hedgewars voice lines (group = voice pack) and music.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .audio import SAMPLE_RATE, read_audio
from .texts import NEGATIVE, contains_keyword, data_dir

NOISE = "_noise_"
AUDIO_EXT = (".flac", ".wav", ".ogg")
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Precise folders whose clips say one of hark's keywords: folder -> (keyword, text).
PRECISE_KEYWORD_FOLDERS = {
    "computer": ("computer", "computer"),
    "heycomputer": ("computer", "hey computer"),
}


class Clip(NamedTuple):
    path: str
    label: str
    group: str
    text: str = ""


def seed_name(clip: Clip) -> str:
    """The clip's name for seeding its random draws: its group and the last two parts of its
    path, the same wherever the data folder is and however its path was written."""
    parts = Path(clip.path).parts[-2:]
    return "/".join((clip.group, *parts))


def load(clip: Clip | str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    path = clip.path if isinstance(clip, Clip) else clip
    return read_audio(path, sample_rate)


def _audio_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXT and p.is_file())


def _data(data: str | os.PathLike | None) -> Path:
    return data_dir(data)


# --------------------------------------------------------------------------------------------
# Precise


def precise_contributors(precise: Path) -> dict[str, str]:
    """Clip UUID -> contributor, from ``licenses/license-<date>-<user>.txt``."""
    out: dict[str, str] = {}
    for lf in sorted((precise / "licenses").glob("license-*.txt")):
        m = re.match(r"license-\d+-(.+)\.txt$", lf.name)
        if not m:
            continue
        for u in _UUID.findall(lf.read_text(encoding="utf-8", errors="replace")):
            out.setdefault(u, m.group(1))
    return out


def _precise_group(path: Path, who: dict[str, str], default: str) -> str:
    name = path.name
    if "_android_" in name:
        parts = name.split("_")
        return f"android-{parts[2][:8]}" if len(parts) > 2 else default
    for u in _UUID.findall(name):
        if u in who:
            return who[u]
    return default


def precise_wakewords(
    data: str | os.PathLike | None = None, words: Iterable[str] | None = None
) -> list[Clip]:
    """Precise wake-word clips. ``computer/en`` and ``heycomputer/en`` are labelled ``computer``;
    other wake words (athena, amelia, heychatterbox, android) keep their own name as label (real
    speech without hark's keywords: hard negatives). ``words`` limits the folders."""
    precise = _data(data) / "precise"
    who = precise_contributors(precise)
    out = []
    if not precise.is_dir():
        return out
    for folder in sorted(p for p in precise.iterdir() if p.is_dir()):
        name = folder.name
        if name in ("licenses", "not-wake-words", "bg") or (
            words is not None and name not in words
        ):
            continue
        label, text = PRECISE_KEYWORD_FOLDERS.get(name, (name, name))
        for f in _audio_files(folder):
            out.append(Clip(str(f), label, _precise_group(f, who, f"precise-{name}"), text))
    return out


def precise_keyword(data: str | os.PathLike | None = None, keyword: str = "computer") -> list[Clip]:
    """Precise clips that say ``keyword`` (``computer``: computer/en and heycomputer/en)."""
    folders = [f for f, (k, _) in PRECISE_KEYWORD_FOLDERS.items() if k == keyword]
    return precise_wakewords(data, folders)


def precise_not_wakewords(data: str | os.PathLike | None = None) -> list[Clip]:
    precise = _data(data) / "precise"
    who = precise_contributors(precise)
    return [
        Clip(str(f), NEGATIVE, _precise_group(f, who, "precise-nww"))
        for f in _audio_files(precise / "not-wake-words")
    ]


def precise_noise(data: str | os.PathLike | None = None) -> list[Clip]:
    return [Clip(str(f), NOISE, "precise-bg") for f in _audio_files(_data(data) / "precise" / "bg")]


# --------------------------------------------------------------------------------------------
# FSDD, Speech Commands noise


def fsdd(data: str | os.PathLike | None = None) -> list[Clip]:
    """Spoken digits: label = the digit word, group = the speaker (``<digit>_<speaker>_<take>``)."""
    out = []
    for f in _audio_files(_data(data) / "fsdd"):
        m = re.match(r"(\d)_([A-Za-z]+)_(\d+)$", f.stem)
        if m:
            word = DIGITS[int(m.group(1))]
            out.append(Clip(str(f), word, m.group(2), word))
    return out


def speech_commands_noise(data: str | os.PathLike | None = None) -> list[Clip]:
    folder = _data(data) / "noise" / "speech_commands"
    return [Clip(str(f), NOISE, f"sc-{f.stem}") for f in _audio_files(folder)]


def noise_clips(data: str | os.PathLike | None = None) -> list[Clip]:
    """All noise in the data folder (Precise bg + Speech Commands background)."""
    return precise_noise(data) + speech_commands_noise(data)


# --------------------------------------------------------------------------------------------
# Debian sound packages (training/scripts/fetch_debian_sounds.sh DIR)

# Hedgewars voice-line file stems -> what the English packs say (best effort; "" = no words).
HEDGEWARS_LINES = {
    "Amazing": "amazing",
    "Boring": "boring",
    "Brilliant": "brilliant",
    "Bugger": "bugger",
    "Byebye": "bye bye",
    "Comeonthen": "come on then",
    "Coward": "coward",
    "Cutitout": "cut it out",
    "Drat": "drat",
    "Enemydown": "enemy down",
    "Excellent": "excellent",
    "Fire": "fire",
    "Firstblood": "first blood",
    "Flawless": "flawless",
    "Flyaway": "fly away",
    "Gonnagetyou": "gonna get you",
    "Grenade": "grenade",
    "Hello": "hello",
    "Hurry": "hurry",
    "Illgetyou": "i'll get you",
    "Incoming": "incoming",
    "Justyouwait": "just you wait",
    "Kamikaze": "kamikaze",
    "Leavemealone": "leave me alone",
    "Melon": "melon",
    "Missed": "missed",
    "Nooo": "no",
    "Nutter": "nutter",
    "Ohdear": "oh dear",
    "Oops": "oops",
    "Ouch": "ouch",
    "Reinforcements": "reinforcements",
    "Revenge": "revenge",
    "Runaway": "run away",
    "Sameteam": "same team",
    "Solong": "so long",
    "Stupid": "stupid",
    "Takecover": "take cover",
    "Thisoneismine": "this one is mine",
    "Traitor": "traitor",
    "Uh-oh": "uh oh",
    "Victory": "victory",
    "Watchit": "watch it",
    "Watchthis": "watch this",
    "Whatthe": "what the",
    "Yessir": "yes sir",
    "Youllregretthat": "you'll regret that",
}
# Packs that do not speak English: their lines are negatives, but their text is unknown.
HEDGEWARS_FOREIGN = (
    "Default_es",
    "Default_pl",
    "Default_ru",
    "Default_uk",
    "Russian",
    "Russian_pl",
)


def _sounds_root(root: str | os.PathLike) -> Path:
    root = Path(root)
    return root / "root" if (root / "root" / "usr").is_dir() else root


def asterisk_prompts(root: str | os.PathLike) -> list[Clip]:
    """asterisk-core-sounds-en-wav: ~570 prompts by one speaker (8 kHz); text from file names."""
    base = _sounds_root(root) / "usr" / "share" / "asterisk" / "sounds"
    out = []
    for f in _audio_files(base):
        if "silence" in f.relative_to(base).parts[:-1]:
            continue  # silence/1.wav ... are just silence
        voice = f.relative_to(base).parts[0]
        text = re.sub(r"[-_]+", " ", f.stem).strip()
        out.append(Clip(str(f), NEGATIVE, f"asterisk-{voice}", text))
    return out


def asterisk_music(root: str | os.PathLike) -> list[Clip]:
    base = _sounds_root(root) / "usr" / "share" / "asterisk" / "moh"
    return [Clip(str(f), NOISE, "asterisk-moh") for f in _audio_files(base)]


def _hedgewars(root: str | os.PathLike) -> Path:
    return _sounds_root(root) / "usr" / "share" / "games" / "hedgewars" / "Data"


def hedgewars_voices(root: str | os.PathLike) -> list[Clip]:
    """Hedgewars voice lines: group = voice pack; text from ``HEDGEWARS_LINES`` for English packs.
    Shouts without words (Ow1, Jump2, Firepunch3...) have text ""."""
    base = _hedgewars(root) / "Sounds" / "voices"
    out = []
    for f in _audio_files(base):
        pack = f.parent.name
        stem = f.stem
        text = "" if pack in HEDGEWARS_FOREIGN else HEDGEWARS_LINES.get(stem, "")
        out.append(Clip(str(f), NEGATIVE, f"hedgewars-{pack}", text))
    return out


def hedgewars_music(root: str | os.PathLike) -> list[Clip]:
    base = _hedgewars(root) / "Music"
    return [Clip(str(f), NOISE, "hedgewars-music") for f in _audio_files(base)]


def debian_sounds(root: str | os.PathLike, keywords: Iterable[str] | None = None) -> list[Clip]:
    """Every clip from the unpacked Debian packages. With ``keywords``, speech whose known text
    contains one of them is left out (e.g. hedgewars "yes sir" for ``yes``)."""
    clips = asterisk_prompts(root) + asterisk_music(root)
    clips += hedgewars_voices(root) + hedgewars_music(root)
    if keywords is not None:
        kws = tuple(keywords)
        clips = [c for c in clips if not (c.text and contains_keyword(c.text, kws))]
    return clips


def default_sounds_dir() -> Path:
    """$HARK_SOUNDS, else ~/.cache/hark/debian-sounds (where fetch_debian_sounds.sh is pointed)."""
    env = os.environ.get("HARK_SOUNDS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hark" / "debian-sounds"


def groups(clips: Iterable[Clip]) -> dict[str, list[Clip]]:
    out: dict[str, list[Clip]] = {}
    for c in clips:
        out.setdefault(c.group, []).append(c)
    return out
