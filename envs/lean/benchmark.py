"""LeanDojo Benchmark 4 on disk: theorem records and the premise corpus. Needs neither Lean nor lean_dojo.

The layout, as LeanDojo publishes it::

    leandojo_benchmark_4/
        corpus.jsonl                       one line per Lean file: path, imports, premises (full_name, start, end)
        random/{train,val,test}.json       a JSON list of theorem records
        novel_premises/{train,val,test}.json

A theorem record has ``url``, ``commit``, ``file_path``, ``full_name``, ``start`` (``[line, column]``) and
``traced_tactics`` (the human proof: ``tactic``, ``state_before``, ``state_after``, ...). Our ``valid`` split is
LeanDojo's ``val``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aitp_gym.backend import SPLITS, Theorem

ENV_ID = "Lean-v0"
VARIANTS = ("random", "novel_premises")
SPLIT_FILES = {"train": "train.json", "valid": "val.json", "test": "test.json"}
REQUIRED_FIELDS = ("url", "commit", "file_path", "full_name")


def resolve_benchmark(path: str | Path, variant: str = "random") -> Path:
    """The folder holding ``{train,val,test}.json``: ``path`` itself, or ``path/variant``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
    root = Path(path).expanduser()
    for folder in (root, root / variant):
        if any((folder / name).is_file() for name in SPLIT_FILES.values()):
            return folder
    raise ValueError(f"{root} is not a LeanDojo Benchmark 4 folder: expected {variant}/train.json, val.json, "
                     "test.json in it (or those files directly); see docs/lean.md")


def corpus_path(folder: Path) -> Path | None:
    """``corpus.jsonl`` next to the split files or one level up (the benchmark's root), if there is one."""
    for candidate in (folder / "corpus.jsonl", folder.parent / "corpus.jsonl"):
        if candidate.is_file():
            return candidate
    return None


def theorem_from_record(record: Mapping[str, Any], split: str = "", theorem_id: str | None = None) -> Theorem:
    """An aitp-gym ``Theorem`` from a benchmark record (or any mapping with url, commit, file_path, full_name).

    ``data`` keeps what the backend needs to open a Dojo and find premises, all JSON-serialisable (it goes
    into trace headers): url, commit, file_path, full_name, start, and the human proof's tactics as ``proof``.
    """
    missing = [k for k in REQUIRED_FIELDS if not isinstance(record.get(k), str) or not record.get(k)]
    if missing:
        raise ValueError(f"a Lean theorem record needs non-empty strings {list(REQUIRED_FIELDS)}; missing or "
                         f"empty: {missing} in {dict(record)!r:.200}")
    if not str(record["file_path"]).endswith(".lean"):
        raise ValueError(f"file_path must be a .lean file, not {record['file_path']!r}")
    tactics = record.get("traced_tactics") or []
    statement = tactics[0].get("state_before", "") if tactics else ""
    data: dict[str, Any] = {k: str(record[k]) for k in REQUIRED_FIELDS}
    if record.get("start") is not None:
        data["start"] = [int(x) for x in record["start"]]
    if tactics:
        data["proof"] = [t["tactic"] for t in tactics if "tactic" in t]
    return Theorem(theorem_id or str(record["full_name"]), statement or str(record["full_name"]), split, data)


def unique_ids(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Theorem ids for ``records``, one each and all different: the full name when no other record has that
    name, ``file_path:full_name`` when the name occurs in several records (the same name in different files is
    a different theorem), and ``file_path:full_name#k`` (k = 2, 3, ...) for later repeats within one file."""
    names = [str(r.get("full_name", "")) for r in records]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    seen: set[str] = set()
    ids = []
    for record, name in zip(records, names, strict=True):
        base = name if counts[name] == 1 else f"{record.get('file_path')}:{name}"
        theorem_id, k = base, 1
        while theorem_id in seen:
            k += 1
            theorem_id = f"{base}#{k}"
        seen.add(theorem_id)
        ids.append(theorem_id)
    return ids


def load_split(folder: Path, split: str) -> tuple[Theorem, ...]:
    """The theorems of one split (empty when its file is missing), with ids from ``unique_ids``: full names,
    qualified by the file where a name occurs more than once."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    path = folder / SPLIT_FILES[split]
    if not path.is_file():
        return ()
    with path.open(encoding="utf-8") as f:
        records = json.load(f)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path}: expected a JSON list of theorem records")
    return tuple(theorem_from_record(record, split, theorem_id)
                 for record, theorem_id in zip(records, unique_ids(records), strict=True))


class PremiseCorpus:
    """Accessible premises from ``corpus.jsonl``, as in ReProver: every premise of the files the theorem's file
    imports (transitively), plus the premises of its own file that end before the theorem starts.

    Only names, positions and imports are kept (not the premises' code), so Mathlib's corpus fits in memory.
    """

    def __init__(self, files: Iterable[Mapping[str, Any]]) -> None:
        self.imports: dict[str, tuple[str, ...]] = {}
        self.premises: dict[str, tuple[tuple[str, tuple[int, int]], ...]] = {}
        for entry in files:
            path = str(entry["path"])
            self.imports[path] = tuple(str(p) for p in entry.get("imports", ()))
            self.premises[path] = tuple((str(p["full_name"]), _pos(p.get("end"))) for p in entry.get("premises", ()))
        self._closure: dict[str, tuple[str, ...]] = {}

    @classmethod
    def load(cls, path: Path) -> PremiseCorpus:
        with path.open(encoding="utf-8") as f:
            return cls(json.loads(line) for line in f if line.strip())

    def imported_files(self, path: str) -> tuple[str, ...]:
        """The files ``path`` imports, directly or not, each once, in depth-first order."""
        if path not in self._closure:
            order: list[str] = []
            seen = {path}
            stack = list(reversed(self.imports.get(path, ())))
            while stack:
                p = stack.pop()
                if p in seen:
                    continue
                seen.add(p)
                order.append(p)
                stack.extend(reversed(self.imports.get(p, ())))
            self._closure[path] = tuple(order)
        return self._closure[path]

    def accessible(self, file_path: str, start: Sequence[int] | None) -> tuple[str, ...]:
        """Premise names a theorem at ``start`` in ``file_path`` may use (the whole file when ``start`` is None)."""
        names = [name for p in self.imported_files(file_path) for name, _ in self.premises.get(p, ())]
        here = self.premises.get(file_path, ())
        limit = _pos(start) if start is not None else None
        names += [name for name, end in here if limit is None or end <= limit]
        return tuple(dict.fromkeys(names))


def _pos(value: Any) -> tuple[int, int]:
    if not value:
        return (0, 0)
    line, column = value[:2]
    return int(line), int(column)
