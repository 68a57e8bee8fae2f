"""Typed settings from text: the one parser behind ``aitp prove --set`` (planner settings), ``aitp loop --set`` and
loop config files. Dataclass fields say the types; values are checked against them and errors name the setting.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def coerce(value: Any, hint: Any, name: str) -> Any:
    """``value`` as the type ``hint`` says (``int``, ``float``, ``bool``, ``str``, ``X | None``, ``list``,
    ``dict``). A string is parsed when the type is a number or a bool (``"1e-3"``, ``"true"``), so text from a
    command line and typed values from YAML go through the same rules; a ``ValueError`` names ``name``."""
    args = typing.get_args(hint)
    if value is None and type(None) in args:
        return None
    if isinstance(value, str) and value.strip().lower() in ("none", "null") and type(None) in args:
        return None
    origin = typing.get_origin(hint)
    if origin in (list, dict):
        if not isinstance(value, origin):
            raise ValueError(f"{name} must be a {origin.__name__}, not {value!r}")
        return value
    target = next((a for a in args if a is not type(None)), hint)
    if target is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"{name} must be true or false, not {value!r}")
    if target in (int, float):
        number = value
        if isinstance(value, str):
            try:
                number = float(value) if target is float else int(value)
            except ValueError:
                number = None
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) \
                or (target is int and number != int(number)):
            what = "an integer" if target is int else "a finite number"
            raise ValueError(f"{name} must be {what}, not {value!r}")
        return target(number)
    if target is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, not {value!r}")
        return value
    return value


def field_types(cls: type) -> dict[str, Any]:
    """``{field name: type}`` of a dataclass, with string annotations resolved."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def from_dict(cls: type, data: Any, where: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping (nested dataclasses from nested mappings); unknown keys are errors
    that name the allowed ones."""
    if not isinstance(data, dict):
        raise ValueError(f"{where.rstrip('.') or 'config'} must be a mapping, not {type(data).__name__}")
    types = field_types(cls)
    unknown = set(data) - set(types)
    if unknown:
        raise ValueError(f"unknown config key(s) {', '.join(sorted(where + str(k) for k in unknown))}; "
                         f"allowed in {where or 'the top level'}: {', '.join(sorted(types))}")
    kwargs = {}
    for key, value in data.items():
        hint = types[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = from_dict(hint, value, f"{where}{key}.")
        else:
            kwargs[key] = coerce(value, hint, where + key)
    return cls(**kwargs)


def assign(data: dict[str, Any], assignment: str, parse: Any = None) -> None:
    """``"prove.max_expansions=32"`` into the nested mapping ``data``; the value is ``parse(text)`` (YAML for loop
    configs) or the text itself, for :func:`coerce` to type."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set takes KEY=VALUE, not {assignment!r}")
    *path, last = key.strip().split(".")
    node = data
    for part in path:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {key}: {part} is not a section")
    node[last] = parse(raw) if parse is not None else raw
