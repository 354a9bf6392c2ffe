"""FrontEndParams: defaults, dict round trip, validation."""

import json

import pytest

from hark_train.features import FrontEndParams


def test_defaults_match_spec_table():
    p = FrontEndParams()
    assert p.to_dict() == {
        "sample_rate": 16000,
        "win_length": 400,
        "hop_length": 160,
        "n_fft": 512,
        "window": "hann",
        "preemphasis": 0.97,
        "n_mels": 40,
        "fmin": 20.0,
        "fmax": 7600.0,
        "log_floor": 1e-6,
        "n_mfcc": 13,
    }
    p.validate()


def test_round_trip_through_json():
    p = FrontEndParams(
        window="hamming", n_mels=20, n_mfcc=4, mean=[1.0, 2.0, 3.0, 4.0], std=[1.0, 0.5, 2.0, 3.0]
    )
    q = FrontEndParams.from_dict(json.loads(json.dumps(p.to_dict())))
    assert q == p
    assert FrontEndParams.from_dict({}) == FrontEndParams()


def test_from_dict_coerces_json_numbers():
    p = FrontEndParams.from_dict({"fmin": 0, "fmax": 8000, "n_fft": 512.0})
    assert isinstance(p.fmin, float) and p.fmin == 0.0
    assert isinstance(p.n_fft, int) and p.n_fft == 512


def test_from_dict_rejects_unknown_key_by_name():
    with pytest.raises(ValueError, match="'n_filters'"):
        FrontEndParams.from_dict({"n_mels": 40, "n_filters": 40})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"n_fft": 256}, "n_fft"),
        ({"fmax": 8000.5}, "fmax"),
        ({"fmin": 7600.0}, "fmin"),
        ({"fmin": -1.0}, "fmin"),
        ({"n_mfcc": 41}, "n_mfcc"),
        ({"n_mfcc": 0}, "n_mfcc"),
        ({"hop_length": 0}, "hop_length"),
        ({"win_length": 0}, "win_length"),
        ({"sample_rate": 0}, "sample_rate"),
        ({"n_mels": 0}, "n_mels"),
        ({"window": "blackman"}, "window"),
        ({"window": 3}, "window"),
        ({"log_floor": 0.0}, "log_floor"),
        ({"preemphasis": -0.1}, "preemphasis"),
        ({"preemphasis": 1.5}, "preemphasis"),
        ({"n_fft": 512.5}, "n_fft"),
        ({"n_mels": True}, "n_mels"),
        ({"fmin": "20"}, "fmin"),
        ({"fmax": float("nan")}, "fmax"),
        ({"mean": [0.0] * 13}, "together"),
        ({"mean": [0.0] * 13, "std": [1.0] * 12}, "std"),
        ({"mean": [0.0] * 12, "std": [1.0] * 12}, "n_mfcc"),
        ({"mean": [0.0] * 13, "std": [1.0] * 12 + [0.0]}, "std"),
        ({"mean": [0.0] * 12 + [float("inf")], "std": [1.0] * 13}, "mean"),
    ],
)
def test_validation_errors(data, match):
    with pytest.raises(ValueError, match=match):
        FrontEndParams.from_dict(data)


def test_validate_catches_direct_construction():
    with pytest.raises(ValueError, match="n_fft"):
        FrontEndParams(n_fft=300).validate()


def test_edge_values_are_valid():
    FrontEndParams(fmax=8000.0, fmin=0.0, n_fft=400, n_mfcc=40, preemphasis=0.0).validate()
    FrontEndParams(window="rectangular", preemphasis=1.0).validate()
    # mean/std may also normalise log-mel input (length n_mels).
    FrontEndParams(mean=[0.0] * 40, std=[1.0] * 40).validate()
