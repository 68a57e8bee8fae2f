"""Typed settings from text (``aitp_gym/config.py``): ``coerce`` to a field's type, ``from_dict`` for nested
dataclasses with errors naming the allowed keys, ``assign`` for ``--set KEY=VALUE``."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from aitp_gym.config import assign, coerce, field_types, from_dict


@pytest.mark.parametrize("value, hint, expected", [
    ("3", int, 3), (3, int, 3), (3.0, int, 3), ("1e-3", float, 0.001), (2, float, 2.0), ("2", float, 2.0),
    ("true", bool, True), ("Yes", bool, True), ("0", bool, False), (" off ", bool, False), (False, bool, False),
    ("none", int | None, None), ("null", float | None, None), (None, str | None, None), ("4", int | None, 4),
    ("x", str, "x"), ([1, 2], list[int], [1, 2]), ({"a": 1}, dict[str, int], {"a": 1}),
])
def test_coerce_parses_text_and_keeps_typed_values(value, hint, expected):
    got = coerce(value, hint, "s")
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value, hint, message", [
    ("2.5", int, "n must be an integer, not '2.5'"), (2.5, int, "n must be an integer, not 2.5"),
    (True, int, "n must be an integer, not True"), (None, int, "n must be an integer, not None"),
    ("nan", float, "n must be a finite number, not 'nan'"), ("inf", float, "n must be a finite number"),
    ("fast", float, "n must be a finite number, not 'fast'"), ("maybe", bool, "n must be true or false, not 'maybe'"),
    (1, bool, "n must be true or false, not 1"), (3, str, "n must be a string, not 3"),
    ("[1]", list[int], "n must be a list, not '\\[1\\]'"), ([], dict[str, int], "n must be a dict"),
])
def test_coerce_refuses_bad_values_naming_the_setting(value, hint, message):
    with pytest.raises(ValueError, match=message):
        coerce(value, hint, "n")


@dataclass
class Inner:
    x: int = 1


@dataclass
class Outer:
    name: str = "a"
    inner: Inner = field(default_factory=Inner)
    rate: float | None = None


def test_from_dict_builds_nested_dataclasses_and_names_what_is_allowed():
    assert field_types(Outer) == {"name": str, "inner": Inner, "rate": float | None}
    assert from_dict(Outer, {"inner": {"x": "3"}, "rate": "0.5"}) == Outer("a", Inner(3), 0.5)
    assert from_dict(Outer, {}) == Outer()
    with pytest.raises(ValueError, match=r"unknown config key\(s\) inner.y; allowed in inner.: x"):
        from_dict(Outer, {"inner": {"y": 1}})
    with pytest.raises(ValueError, match=r"unknown config key\(s\) nme; allowed in the top level: inner, name, rate"):
        from_dict(Outer, {"nme": "b"})
    with pytest.raises(ValueError, match="inner must be a mapping, not int"):
        from_dict(Outer, {"inner": 3})
    with pytest.raises(ValueError, match="config must be a mapping, not list"):
        from_dict(Outer, [])
    with pytest.raises(ValueError, match="inner.x must be an integer, not 'three'"):
        from_dict(Outer, {"inner": {"x": "three"}})


def test_assign_sets_a_dotted_key():
    data: dict = {}
    assign(data, "prove.max_expansions=32")
    assign(data, "prove.planner = htps ")
    assign(data, "rounds=3", parse=int)
    assert data == {"prove": {"max_expansions": "32", "planner": " htps "}, "rounds": 3}
    for bad in ("rounds", "=3", " =3"):
        with pytest.raises(ValueError, match="--set takes KEY=VALUE"):
            assign(data, bad)
    with pytest.raises(ValueError, match="--set rounds.x: rounds is not a section"):
        assign(data, "rounds.x=1")
