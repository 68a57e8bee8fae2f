"""The prover backend protocol (``aitp_gym/backend.py``): ``Theorem``, ``ProverBackend`` and the capability
protocols callers test with ``isinstance``, ``describe`` and ``validate_seconds``."""

from types import SimpleNamespace

import pytest
from doubles.scripted import ScriptedProver

from aitp_gym.backend import (
    DescribesProver,
    ProverBackend,
    SupportsCandidates,
    SupportsCustomTheorem,
    SupportsDefaultCritic,
    SupportsPrepare,
    Theorem,
    describe,
    validate_seconds,
)
from aitp_gym.envs.holist.backend import HOListBackend
from aitp_gym.envs.sr.backend import SRBackend


def test_theorems_compare_by_id_statement_and_split_not_data():
    a = Theorem("t1", "x = x", "valid", {"x": [1, 2]})
    b = Theorem("t1", "x = x", "valid", {"x": [3]})
    assert a == b and hash(a) == hash(b) and "data" not in repr(a)
    assert a != Theorem("t1", "x = x", "test") and Theorem("t", "s").split == ""
    with pytest.raises(AttributeError):
        a.id = "t2"  # frozen


def test_capabilities_are_read_with_isinstance():
    scripted = ScriptedProver({"g": {"done": []}})
    assert isinstance(scripted, ProverBackend) and isinstance(scripted, SupportsCandidates)
    for capability in (SupportsPrepare, SupportsCustomTheorem, SupportsDefaultCritic, DescribesProver):
        assert not isinstance(scripted, capability), capability
    sr = SRBackend()
    for capability in (ProverBackend, SupportsCandidates, SupportsCustomTheorem, SupportsDefaultCritic):
        assert isinstance(sr, capability), capability
    assert not isinstance(sr, SupportsPrepare)  # nothing to start
    assert issubclass(HOListBackend, SupportsPrepare)  # HOL Light's cold load, run before the clock starts
    assert not isinstance(object(), ProverBackend)


def test_describe_reads_what_a_backend_says_about_its_prover():
    assert describe(ScriptedProver({})) == {"prover_version": None, "tactic_timeout": None}
    assert describe(SimpleNamespace(tactic_timeout=5.0)) == {"prover_version": None, "tactic_timeout": 5.0}
    assert describe(SimpleNamespace(prover_version="p 1", tactic_timeout=None, other=1)) == \
        {"prover_version": "p 1", "tactic_timeout": None}


def test_validate_seconds():
    assert validate_seconds(None, 2.0, "tactic_timeout") == 2.0
    assert validate_seconds(3, None, "t") == 3.0 and isinstance(validate_seconds(3, None, "t"), float)
    for bad in (0, -1, float("nan"), float("inf"), True, "2"):
        with pytest.raises(ValueError, match=r"tactic_timeout must be a positive number of seconds \(or None for "
                                             r"the default 2.0\), not"):
            validate_seconds(bad, 2.0, "tactic_timeout")
    with pytest.raises(ValueError, match=r"check_timeout must be a positive number of seconds, not None"):
        validate_seconds(None, None, "check_timeout")
