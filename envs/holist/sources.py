"""HOL Light's core sources as data: the files ``hol.ml`` loads, their toplevel phrases, and the
``let NAME = prove(GOAL, TAC)`` proofs in them.

Used by the load-order test, the fidelity test and ``bench/holist.py``: HOL Light's own proofs,
replayed through ``HOList-v0``. Nothing here is evaluated; it is text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aitp_gym.envs.holist.prover import HOL_DIR

_LOADS = re.compile(r'^\s*loads?t?\s+"([^"]+)"\s*;;', re.M)
_PROVE = re.compile(r"let\s+([A-Za-z_][\w']*)\s*=\s*prove\s*\(\s*(`[^`]*`)\s*,(.*)\)\s*$", re.S)
_NAME = re.compile(r"[A-Za-z_][\w']*")


def core_files(hol_dir: Path = HOL_DIR) -> list[Path]:
    """The files that ``hol.ml`` loads, in order."""
    names = _LOADS.findall((hol_dir / "hol.ml").read_text(errors="replace"))
    return [hol_dir / n for n in names if (hol_dir / n).exists()]


def phrases(text: str) -> list[str]:
    """Toplevel phrases (ending in ``;;``), with comments removed. Strings, character literals and
    backquoted term quotations are kept whole."""
    out: list[str] = []
    buf: list[str] = []
    i, n, depth = 0, len(text), 0
    while i < n:
        c = text[i]
        if text.startswith("(*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("(*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*)", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            buf.append(" ")
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            buf.append(text[i:j + 1])
            i = j + 1
            continue
        if c == "`":
            j = text.find("`", i + 1)
            j = n if j < 0 else j
            buf.append(text[i:j + 1])
            i = j + 1
            continue
        if text.startswith(";;", i):
            phrase = "".join(buf).strip()
            if phrase:
                out.append(phrase)
            buf, i = [], i + 2
            continue
        buf.append(c)
        i += 1
    return out


@dataclass(frozen=True)
class SourceProof:
    file: str
    name: str
    goal: str  # the quotation's text, without backquotes
    tactic: str  # the proof's tactic, as written (comments removed, whitespace normalised)
    phrase: int = 0  # the phrase's number in its file


def _squash(s: str) -> str:
    """Normalise whitespace outside quotations; inside them, newlines become spaces."""
    parts = re.split(r"(`[^`]*`)", s)
    return "".join(p.replace("\n", " ") if p.startswith("`") else " ".join(p.split()) for p in parts).strip()


def source_proofs(hol_dir: Path = HOL_DIR) -> list[SourceProof]:
    """Every toplevel ``let NAME = prove(`GOAL`, TAC)`` of the core, in load order."""
    out = []
    for path in core_files(hol_dir):
        for k, phrase in enumerate(phrases(path.read_text(errors="replace"))):
            m = _PROVE.fullmatch(phrase.strip())
            if m:
                out.append(SourceProof(path.name, m.group(1), m.group(2)[1:-1], _squash(m.group(3)), k))
    return out


def split_top(tactic: str, word: str) -> list[str]:
    """Split at ``word`` (e.g. ``THEN``) where it stands outside brackets and quotations."""
    parts, depth, start, i, n = [], 0, 0, 0, len(tactic)
    while i < n:
        c = tactic[i]
        if c == "`":
            j = tactic.find("`", i + 1)
            i = n if j < 0 else j + 1
            continue
        if c == '"':
            j = tactic.find('"', i + 1)
            i = n if j < 0 else j + 1
            continue
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and tactic.startswith(word, i) and (i == 0 or not (tactic[i - 1].isalnum()
                                                                             or tactic[i - 1] in "_'")):
            end = i + len(word)
            if end >= n or not (tactic[end].isalnum() or tactic[end] in "_'"):
                parts.append(tactic[start:i].strip())
                start = i = end
                continue
        i += 1
    parts.append(tactic[start:].strip())
    return parts


def names_in(tactic: str) -> set[str]:
    """Identifiers in a tactic's text outside quotations and strings."""
    text = re.sub(r"`[^`]*`|\"(?:[^\"\\]|\\.)*\"", " ", tactic)
    return set(_NAME.findall(text))
