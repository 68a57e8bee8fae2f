"""Optional dependencies (``aitp_gym/optional.py``): ``require`` imports a package or raises
``DependencyNotInstalled`` naming its extra and what needed it; other import errors pass through. That ``EXTRAS``
matches setup.cfg's extras is checked in test_packaging.py."""

import json
import sys

import pytest

from aitp_gym.errors import DependencyNotInstalled
from aitp_gym.optional import EXTRAS, require


def test_a_missing_optional_package_names_its_extra_and_the_purpose(monkeypatch):
    monkeypatch.setitem(sys.modules, "pettingzoo", None)  # as if not installed
    with pytest.raises(DependencyNotInstalled) as caught:
        require("pettingzoo", "the conjecturer-prover game")
    message = str(caught.value)
    assert message.startswith("the conjecturer-prover game needs the optional package 'pettingzoo'")
    assert 'pip install "aitp-gym[pettingzoo]"' in message and '"aitp-gym[all]"' in message
    assert isinstance(caught.value, ImportError) and isinstance(caught.value.__cause__, ImportError)
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.util", None)
    with pytest.raises(DependencyNotInstalled, match=r"^this needs the optional package 'ray'.*aitp-gym\[ray\]"):
        require("ray.util")  # a submodule: the extra of its top-level package
    assert EXTRAS["ray"] == "ray" and EXTRAS["torch"] == "learn"


def test_require_passes_other_import_errors_through():
    with pytest.raises(ModuleNotFoundError) as e:
        require("no_such_module_anywhere")
    assert type(e.value) is ModuleNotFoundError  # not disguised as a missing extra
    assert require("json") is json
