"""Progress for long phases: a tqdm bar on a terminal or in a notebook, one summary line per phase elsewhere.

Redirected to a file or a pipe (``make demo > log``, a batch job, CI), a tqdm bar writes a frame per update; a
log of a few rounds grows to hundreds of kilobytes of ``\\r``. There, :func:`progress` prints nothing while the
phase runs and one line when it ends, e.g. ``aitp: round 1: proving: 40/40 in 12.3 s (proved 31/40)``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO


def interactive(stream: TextIO | None = None) -> bool:
    """True on a terminal and in a Jupyter kernel (where tqdm draws a widget or redraws its line)."""
    stream = stream or sys.stderr
    if "ipykernel" in sys.modules and type(stream).__module__.startswith("ipykernel"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


class PhaseLine:
    """The non-interactive stand-in for a tqdm bar: the same calls, and one line on ``close()``."""

    def __init__(self, iterable: Iterable[Any] | None = None, total: int | None = None, desc: str = "",
                 unit: str = "it", file: TextIO | None = None) -> None:
        self.iterable, self.desc, self.unit = iterable, desc, unit
        self.total = total if total is not None or iterable is None else _len(iterable)
        self.n = 0
        self.file = file
        self.postfix: dict[str, Any] = {}
        self._started = time.perf_counter()
        self._closed = False

    def __iter__(self) -> Iterator[Any]:
        try:
            for item in self.iterable or ():
                yield item
                self.n += 1
        finally:
            self.close()

    def __enter__(self) -> PhaseLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        self.postfix = {**(ordered_dict or {}), **kwargs}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        done = f"{self.n}/{self.total}" if self.total is not None else str(self.n)
        extra = ", ".join(f"{k} {v}" for k, v in self.postfix.items())
        line = (f"aitp: {self.desc}: {done} {self.unit} in {time.perf_counter() - self._started:.1f} s"
                + (f" ({extra})" if extra else ""))
        print(line, file=self.file or sys.stderr, flush=True)


def _len(iterable: Iterable[Any]) -> int | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
             enabled: bool = True, leave: bool = False, file: TextIO | None = None, **kwargs: Any) -> Any:
    """A progress display for one phase: tqdm where it can redraw in place, else a :class:`PhaseLine`. With
    ``enabled=False`` (``--quiet``), a disabled tqdm (nothing at all)."""
    from tqdm.auto import tqdm

    if not enabled:
        return tqdm(iterable, total=total, disable=True)
    if not interactive(file):
        return PhaseLine(iterable, total=total, desc=desc, unit=unit, file=file)
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=file, disable=False, **kwargs)
