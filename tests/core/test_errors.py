"""The exceptions (``aitp_gym/errors.py``): one base class, and each also the built-in exception callers already
catch (``ImportError``, ``KeyError``, ``ValueError``)."""

import inspect

import gymnasium as gym
import pytest

import aitp_gym
from aitp_gym import errors
from aitp_gym.errors import (
    AitpError,
    DependencyNotInstalled,
    ProverError,
    ProverTimeout,
    ProverUnavailable,
    TraceFormatError,
    UnknownTheorem,
)


def test_every_exception_is_an_aitp_error():
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert len(classes) >= 7 and all(issubclass(c, AitpError) for c in classes)
    assert issubclass(AitpError, Exception) and aitp_gym.AitpError is AitpError


def test_each_is_also_the_built_in_exception_callers_catch():
    assert issubclass(DependencyNotInstalled, ImportError)
    assert issubclass(UnknownTheorem, KeyError) and issubclass(TraceFormatError, ValueError)
    assert issubclass(ProverUnavailable, ProverError) and issubclass(ProverTimeout, ProverError)
    assert not issubclass(ProverError, ProverUnavailable)  # a crash is not "gone for good"


def test_unknown_theorem_reads_like_a_message_not_a_quoted_key():
    assert str(UnknownTheorem("no theorem 'x' in valid")) == "no theorem 'x' in valid"
    assert str(KeyError("no theorem 'x' in valid")) == "\"no theorem 'x' in valid\""  # what it avoids
    assert str(UnknownTheorem()) == ""
    env = gym.make("SR-v0", split="valid")
    with pytest.raises(KeyError) as caught:  # code written against KeyError catches it
        env.reset(options={"theorem": "no-such-theorem"})
    assert isinstance(caught.value, UnknownTheorem) and "no-such-theorem" in str(caught.value)


def test_a_non_trace_is_a_value_error(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="not an aitp-gym trace"):
        list(aitp_gym.iter_traces(tmp_path / "x.json"))
