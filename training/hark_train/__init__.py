"""hark training tools: the reference audio front-end and its golden fixtures."""

from .features import (
    FrontEndParams,
    frame_count,
    log_mel,
    mel_filterbank,
    mfcc,
    normalise,
    read_wav,
    window,
)

__all__ = [
    "FrontEndParams",
    "frame_count",
    "log_mel",
    "mel_filterbank",
    "mfcc",
    "normalise",
    "read_wav",
    "window",
]
