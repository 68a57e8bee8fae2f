"""Progress for long phases (``aitp_gym/progress.py``): a tqdm bar where it can redraw (a terminal, a notebook),
else a ``PhaseLine`` that prints one line when the phase ends; nothing at all when disabled."""

import io
import re

from aitp_gym.progress import PhaseLine, interactive, progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_phase_line_prints_one_line_with_n_of_total_and_the_postfix():
    out = io.StringIO()
    line = PhaseLine(["a", "b", "c"], desc="round 1: proving", unit="theorems", file=out)
    seen = []
    for item in line:
        seen.append(item)
        assert out.getvalue() == ""  # nothing while the phase runs
        line.set_postfix(proved=f"{len(seen) - 1}/{len(seen)}")
    assert seen == ["a", "b", "c"]
    assert re.fullmatch(r"aitp: round 1: proving: 3/3 theorems in \d+\.\d s \(proved 2/3\)\n", out.getvalue())
    line.close()  # a second close prints nothing
    assert out.getvalue().count("\n") == 1


def test_a_phase_line_counts_updates_and_works_without_a_total():
    out = io.StringIO()
    with PhaseLine(total=10, desc="train", unit="steps", file=out) as line:
        line.update(4)
        line.update()
    assert re.fullmatch(r"aitp: train: 5/10 steps in \d+\.\d s\n", out.getvalue())
    out = io.StringIO()
    list(PhaseLine((i for i in range(2)), desc="x", file=out))  # a generator has no length
    assert re.fullmatch(r"aitp: x: 2 it in \d+\.\d s\n", out.getvalue())


def test_interactive_means_a_terminal():
    assert interactive(Terminal()) and not interactive(io.StringIO())
    closed = io.StringIO()
    closed.close()
    assert not interactive(closed)


def test_progress_picks_a_phase_line_a_bar_or_nothing():
    out = io.StringIO()
    shown = progress(range(3), desc="d", file=out)
    assert isinstance(shown, PhaseLine) and list(shown) == [0, 1, 2] and out.getvalue().startswith("aitp: d: 3/3")
    terminal = Terminal()
    bar = progress(range(3), desc="d", file=terminal)
    assert not isinstance(bar, PhaseLine) and list(bar) == [0, 1, 2]
    assert "d:   0%|" in terminal.getvalue() and "0/3 [" in terminal.getvalue()  # a tqdm bar, redrawn in place
    assert terminal.getvalue().endswith("\r")  # and cleared at the end (leave=False)
    quiet = Terminal()
    assert list(progress(range(3), desc="d", file=quiet, enabled=False)) == [0, 1, 2]
    assert quiet.getvalue() == ""
