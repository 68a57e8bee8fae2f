"""SR-v0's fixed splits: shipped with the package, made lazily, generated only when the generator changed.

Generating the splits (``backend.generate_split``: rejection sampling, each sample checked by replaying its
proof) takes 1–2 s for train on an idle machine and ten times that on a busy one, in every process that needs
it. So the generator's output ships as package data, ``data/splits.json.gz``: for every split, one row per
theorem, ``[id, difficulty, target, proof]``, in split order. A theorem is made from its row by
``make_theorem``, the very call ``generate_split`` ends with, so it is the generated theorem (id, statement,
data, x and y as this machine's NumPy computes them, ground-truth proof), and it is made on first access
(``SplitTheorems``): a ``reset()`` that draws one train theorem makes one theorem, not 1,066.

The file carries two keys. ``sources``, a digest of ``expr.py``, ``backend.py`` and this file whole and of
``backend.SPLIT_SPECS``, is checked first and costs well under a millisecond; when it differs (something in
those files changed), ``key``, a digest of the generator's code alone (``_GENERATOR_CODE``, all of ``expr.py``,
the constants they use) and of ``SPLIT_SPECS``, decides, in a few milliseconds. When neither matches (someone
changed the generator and has not rebuilt the file), a split is generated as before, once per machine: it is
cached under ``key`` in ``$AITP_CACHE_DIR/sr`` (default ``~/.cache/aitp-gym/sr``), one file per split, written
atomically (a temporary file renamed over the name), so concurrent processes each read a whole file or
generate the same one again. Neither key covers the NumPy version, on purpose: which targets a split holds is
fixed by the shipped file, and each machine computes their values as it always did.

Rebuild the shipped file after changing the generator (``tests/envs/sr/test_sr_splits.py`` fails until then)::

    python -m aitp_gym.envs.sr.splits
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import inspect
import json
import operator
import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from aitp_gym.backend import SPLITS, Theorem
from aitp_gym.envs.sr import backend as B
from aitp_gym.envs.sr import expr as E
from aitp_gym.trace import atomic_write_text

SHIPPED_FILE = Path(__file__).with_name("data") / "splits.json.gz"
# Bumped when the rows change meaning; part of the key.
FORMAT = 1

# A row: [id, difficulty, target, proof].
Row = list[Any]


def cache_dir() -> Path:
    """Where splits generated on this machine are cached (beside HOList-v0's theorem database)."""
    base = os.environ.get("AITP_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "aitp-gym")
    return Path(base) / "sr"


# ---------------------------------------------------------------------- rows
def row_of(theorem: Theorem) -> Row:
    """A generated theorem's row: what ``theorem_of`` needs to make it again."""
    data = theorem.data
    return [theorem.id, data["difficulty"], data["target"], list(data["proof"])]


def theorem_of(split: str, row: Row) -> Theorem:
    """The theorem of a row, made as ``generate_split`` makes it."""
    theorem_id, difficulty, target, proof = row
    return B.make_theorem(target, theorem_id=theorem_id, split=split, proof=proof, difficulty=difficulty)


def _spec(split: str) -> dict[str, Any]:
    spec = B.SPLIT_SPECS[split]
    return {"seed": spec["seed"], "difficulties": list(spec["difficulties"]), "per_difficulty": spec["per_difficulty"]}


def generate(split: str, exclude: set[str] = frozenset()) -> list[Theorem]:
    """A split freshly generated, as it always was: ``generate_split`` with its spec, the train split keeping
    out ``exclude`` (the valid and test targets)."""
    spec = B.SPLIT_SPECS[split]
    return B.generate_split(split, spec["seed"], spec["difficulties"], spec["per_difficulty"], exclude)


# ---------------------------------------------------------------------- the key
# What the splits depend on besides expr.py: the generator, the theorem constructor, the proof check that
# random_theorem runs (SRBackend.start and apply), and the rows.
_GENERATOR_CODE = (
    B.random_theorem, B.generate_split, B.apply_rule, B.make_theorem, B._sr_theorem, B._check_data, B._frozen,
    B.make_goal, B.theorem_arrays, B.SRBackend.start, B.SRBackend.apply, row_of, theorem_of, generate,
)
_SOURCE_FILES = (E.__file__, B.__file__, __file__)


def _specs() -> str:
    return json.dumps({split: _spec(split) for split in SPLITS}, sort_keys=True)


@functools.cache
def _code_digest() -> str | None:
    """A digest of the generator's source and constants; None if the source cannot be read (an install
    without .py files), in which case the shipped file, built with this package's code, is trusted."""
    h = hashlib.sha256()
    try:
        h.update(Path(E.__file__).read_bytes())
        for code in _GENERATOR_CODE:
            h.update(inspect.getsource(code).encode())
    except (OSError, TypeError):
        return None
    constants = [FORMAT, B.N_POINTS, B.DEFAULT_POINTS.tobytes().hex(), B.RTOL, B.ATOL, B.MAX_SUBSTITUTION_SIZE,
                 B.MAX_EXPRESSION_SIZE, B.MAX_TACTIC_LENGTH, B.RULES, B.DEFAULT_SUBSTITUTIONS, B._TACTIC_RE.pattern]
    h.update(json.dumps(constants).encode())
    return h.hexdigest()


@functools.cache
def _files_digest() -> str | None:
    h = hashlib.sha256()
    try:
        for name in _SOURCE_FILES:
            h.update(Path(name).read_bytes())
    except OSError:
        return None
    return h.hexdigest()


def generator_key() -> str | None:
    """The key of the splits this code generates: the generator's code (``_GENERATOR_CODE``, all of
    ``expr.py``, the constants they use) and ``SPLIT_SPECS``; None if the source cannot be read. Takes some
    milliseconds (``inspect.getsource``)."""
    code = _code_digest()
    return None if code is None else hashlib.sha256(f"{code}|{_specs()}".encode()).hexdigest()


def sources_key() -> str | None:
    """The quick key: the three source files whole (expr.py, backend.py, this file) and ``SPLIT_SPECS``. A
    shipped file with this key needs no ``generator_key``; an edit anywhere in those files changes it."""
    files = _files_digest()
    return None if files is None else hashlib.sha256(f"{files}|{_specs()}".encode()).hexdigest()


# ---------------------------------------------------------------------- reading and writing
@functools.cache
def _read_shipped(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, ValueError, EOFError):
        return None
    return doc if isinstance(doc, dict) else None


def shipped_rows(split: str) -> list[Row] | None:
    """The split's rows from the shipped file, if the file is there and was built by this generator: its
    ``sources`` key matches (the source files have not changed since), or else its ``key`` does (they
    changed, but not the generator's code)."""
    doc = _read_shipped(SHIPPED_FILE)
    if doc is None or doc.get("format") != FORMAT:
        return None
    sources = sources_key()
    if sources is None or doc.get("sources") != sources:
        key = generator_key()
        if key is not None and doc.get("key") != key:
            return None
    return (doc.get("splits") or {}).get(split)


def cache_file(split: str, key: str) -> Path:
    return cache_dir() / f"splits-{key[:16]}-{split}.json.gz"


def cached_rows(split: str, key: str) -> list[Row] | None:
    """The split's rows cached on this machine under ``key``, if any (an unreadable file counts as none)."""
    try:
        doc = json.loads(gzip.decompress(cache_file(split, key).read_bytes()))
    except (OSError, ValueError, EOFError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != key or doc.get("split") != split:
        return None
    return doc.get("rows")


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def write_cache(split: str, key: str, rows: list[Row]) -> None:
    """Cache a generated split, atomically; a cache that cannot be written is skipped."""
    try:
        atomic_write_text(cache_file(split, key), _dump({"format": FORMAT, "key": key, "split": split, "rows": rows}))
    except OSError as e:
        warnings.warn(f"SR-v0: could not cache the generated {split} split in {cache_dir()}: {e}", stacklevel=2)


def write_shipped(path: Path = SHIPPED_FILE) -> dict[str, int]:
    """Generate every split afresh and write them to the shipped file (atomically); the split sizes."""
    key = generator_key()
    if key is None:
        raise RuntimeError("the generator's source cannot be read, so the file could not be keyed")
    splits: dict[str, list[Row]] = {split: [row_of(t) for t in generate(split)] for split in ("valid", "test")}
    exclude = {row[2] for split in ("valid", "test") for row in splits[split]}
    splits = {"train": [row_of(t) for t in generate("train", exclude)], **splits}
    atomic_write_text(path, _dump({"format": FORMAT, "key": key, "sources": sources_key(), "splits": splits}))
    _read_shipped.cache_clear()
    return {split: len(rows) for split, rows in splits.items()}


# ---------------------------------------------------------------------- the process-wide splits
class SplitTheorems(Sequence[Theorem]):
    """The theorems of one split, each made from its row on first access and then kept: drawing one theorem
    makes one. Indexing (negative indices too), slicing (a tuple), ``len`` and iteration work as on a tuple.
    One instance per split is shared by every ``SRBackend`` of a process (``split_theorems``); it pickles as a
    reference to that split, so a pickle carries no theorems."""

    def __init__(self, split: str, rows: Sequence[Row], theorems: Sequence[Theorem] | None = None) -> None:
        self.split = split
        self._rows = rows
        self._theorems: list[Theorem | None] = list(theorems) if theorems is not None else [None] * len(rows)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Theorem: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Theorem, ...]: ...

    def __getitem__(self, index: int | slice) -> Theorem | tuple[Theorem, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self._rows))))
        i = operator.index(index)
        n = len(self._rows)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"theorem index {index} is out of range for the {self.split} split ({n} theorems)")
        theorem = self._theorems[i]
        if theorem is None:
            with self._lock:
                theorem = self._theorems[i]
                if theorem is None:
                    theorem = self._theorems[i] = theorem_of(self.split, self._rows[i])
        return theorem

    def __iter__(self) -> Iterator[Theorem]:
        for i in range(len(self._rows)):
            yield self[i]

    def made(self) -> int:
        """How many of the split's theorems have been made so far."""
        return sum(t is not None for t in self._theorems)

    def __repr__(self) -> str:
        return f"<SR-v0 {self.split} split: {len(self._rows)} theorems, {self.made()} made>"

    def __reduce__(self) -> tuple[Any, ...]:
        return split_theorems, (self.split,)


# {(split, its spec, the specs train keeps apart from): theorems}; a changed SPLIT_SPECS gets new splits.
_SPLITS: dict[tuple, SplitTheorems] = {}
_LOCK = threading.RLock()


def _split_key(split: str) -> tuple:
    def spec(name: str) -> tuple:
        s = _spec(name)
        return name, s["seed"], tuple(s["difficulties"]), s["per_difficulty"]
    return (spec(split), *(spec(s) for s in ("valid", "test"))) if split == "train" else (spec(split),)


def split_theorems(split: str) -> SplitTheorems:
    """The fixed theorems of a split, shared by the whole process. Their rows come from the shipped file, else
    from this machine's cache, else from the generator (train: 1–2 s, and valid and test first, whose targets it
    keeps out); only the split asked for is read or generated."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    cache_key = _split_key(split)
    with _LOCK:
        theorems = _SPLITS.get(cache_key)
        if theorems is None:
            theorems = _SPLITS[cache_key] = _load(split)
        return theorems


def _load(split: str) -> SplitTheorems:
    rows = shipped_rows(split)
    key = None if rows is not None else generator_key()
    if key is not None:
        rows = cached_rows(split, key)
    if rows is not None:
        return SplitTheorems(split, rows)
    exclude: set[str] = set()
    if split == "train":  # keep evaluation targets out of training
        exclude = {t.data["target"] for s in ("valid", "test") for t in split_theorems(s)}
    warnings.warn(f"SR-v0: {SHIPPED_FILE} was not built by this generator; generating the {split} split "
                  f"(cached in {cache_dir()}). Rebuild the file with `python -m aitp_gym.envs.sr.splits`.",
                  stacklevel=2)
    theorems = generate(split, exclude)
    rows = [row_of(t) for t in theorems]
    if key is not None:
        write_cache(split, key, rows)
    return SplitTheorems(split, rows, theorems)


def main() -> None:
    sizes = write_shipped()
    print(f"wrote {SHIPPED_FILE} (key {generator_key()[:16]}): " + ", ".join(f"{n} {s}" for s, n in sizes.items()))


if __name__ == "__main__":
    main()
