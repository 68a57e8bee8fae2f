"""Every notebook in notebooks/ runs from top to bottom in a real Jupyter kernel, in a fresh folder.

Parametrised over the files, so a new notebook is tested the moment it is added. A notebook that uses HOL Light
(its code has ``"HOList-v0"`` as a string, or its metadata says ``{"aitp_gym": {"expensive": true}}``) is marked
``expensive``; a mention in a comment (``# registers SR-v0, HOList-v0 and Lean-v0``) is not a use.
Its kernel inherits ``AITP_HOL_SERVER_DIR`` from tests/conftest.py, so it attaches to the session's warm HOL Light
(starting it if no test has yet: a cold load of about 90-160 s). Known notebooks also have their key results
checked; any other notebook must run without an error, and every file a notebook writes must be one that git
ignores had it run in notebooks/ (figures and traces go to runs/), so that running the notebooks leaves the
repository as it was.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from doubles import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell
EXPENSIVE_CELL_TIMEOUT = 900  # the first HOList-v0 cell may wait for a cold HOL Light load
KERNEL = "python3"
MAX_STORED_OUTPUTS = 50_000  # characters of output JSON a committed notebook may keep


def _is_expensive(path: Path) -> bool:
    nb = json.loads(path.read_text())
    if nb.get("metadata", {}).get("aitp_gym", {}).get("expensive"):
        return True
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return '"HOList-v0"' in code or "'HOList-v0'" in code


def _params() -> list:
    params = []
    for path in NOTEBOOKS:
        marks = [pytest.mark.expensive] if _is_expensive(path) else []
        params.append(pytest.param(path, marks=marks, id=path.name))
    return params


def _kernel_or_skip() -> None:
    pytest.importorskip("nbclient", reason="notebook tests need nbclient: pip install nbclient")
    pytest.importorskip("ipykernel", reason="notebook tests need ipykernel: pip install ipykernel")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        pytest.skip(f"no Jupyter kernel named {KERNEL!r}: python -m ipykernel install --user")


def _execute(path: Path, workdir: Path) -> tuple[str, list[dict], float]:
    """Run the notebook in ``workdir``; its text outputs joined, its rich outputs, and the seconds it took."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    timeout = EXPENSIVE_CELL_TIMEOUT if _is_expensive(path) else CELL_TIMEOUT
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL, resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    seconds = time.perf_counter() - start
    text, rich = [], []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                text.append(output["text"])
            elif "data" in output:
                text.append(output["data"].get("text/plain", ""))
                rich.append(output["data"])
    return "\n".join(text), rich, seconds


def _check_quickstart(out: str, rich: list[dict], workdir: Path) -> None:
    assert "sin @9         -> outcome=error" in out  # a bad tactic is an error observation, not an exception
    assert "error: position 9 is out of range" in out
    assert "error: unknown rule 'frobnicate'" in out
    assert "add @0 B=x     -> outcome=proved reward=1.0 terminated=True" in out
    assert "proved: True" in out
    assert (workdir / "runs" / "notebook" / "trace.json.gz").exists()
    for name in ("bestfs", "bfs", "fringe", "updown", "htps"):
        assert f"{name:7s} proved=True" in out
    for name in ("BestFS", "HTPS"):
        assert f"{name:6s} budget 100: proved" in out
    assert any("image/png" in data for data in rich), "the proof-rate plot was not displayed"
    assert (workdir / "runs" / "notebook" / "proof_rate.png").stat().st_size > 0


def _check_holist(out: str, rich: list[dict], workdir: Path) -> None:
    assert "HOL Light ready in" in out
    assert "⊢ !m n p. m + n + p = (m + n) + p" in out
    assert "MATCH_ACCEPT_TAC MULT_SYM\n  on    ⊢ m + n = n + m\n  -> error" in out  # refused by HOL Light
    assert "error: rejected before reaching HOL Light" in out  # the hostile string
    assert "REWRITE_TAC [MULT_CLAUSES]\n  on    ⊢ m * 1 = m\n  -> proved (reward 1.0, terminated True)" in out
    assert "└ CONJ_TAC   [ok]" in out  # the hand-made proof tree, drawn
    for name in ("EXP_ONE", "NOT_ODD", "DIST_LZERO"):
        assert f"{name:11s} proved=True" in out
    assert "✓ ⊢ !n. dist (0,n) = n" in out  # the baseline's proof tree, drawn


def _check_learning_curves(out: str, rich: list[dict], workdir: Path) -> None:
    run = workdir / "runs" / "learning_curves"
    rows = [json.loads(line) for line in (run / "rounds.jsonl").read_text().splitlines()]
    assert [row["round"] for row in rows] == [0, 1, 2]  # the small loop ran round 0 and two learning rounds
    assert all(row["eval"]["attempted"] == 40 for row in rows) and rows[1]["train"]["attempted"] == 60
    assert "3 rounds in" in out
    for row in rows:  # the table printed from rounds.jsonl
        ev = row["eval"]
        assert f"{ev['proved']}/{ev['attempted']}" in out
    assert "losses/seq2seq/loss" in out and "eval/proof_rate                  3 points" in out  # read_scalars
    assert "3 rounds plotted; 2 loss curves" in out
    assert out.count("traces proved (matches rounds.jsonl)") == 2  # the first and last round's eval traces
    assert "held-out theorems that round 0 did not" in out
    assert sum("image/png" in data for data in rich) >= 2, "the scalar and trace plots were not displayed"
    for name in ("learning_curves.png", "expansions.png"):
        assert (workdir / "runs" / "notebook" / name).stat().st_size > 0


CHECKS: dict[str, Callable[[str, list[dict], Path], None]] = {
    "01_quickstart.ipynb": _check_quickstart,
    "02_holist.ipynb": _check_holist,
    "03_learning_curves.ipynb": _check_learning_curves,
}


def test_notebooks_found():
    names = [p.name for p in NOTEBOOKS]
    assert set(CHECKS) <= set(names), f"notebooks with checks are missing: {sorted(set(CHECKS) - set(names))}"
    expensive = {p.name for p in NOTEBOOKS if _is_expensive(p)}
    assert "02_holist.ipynb" in expensive and "01_quickstart.ipynb" not in expensive  # SR-v0 only: always run


@pytest.mark.parametrize("path", _params())
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    _kernel_or_skip()
    if _is_expensive(path):
        from aitp_gym.envs.holist.prover import INSTALL_HINT, hol_light_available

        if not hol_light_available():
            pytest.skip(INSTALL_HINT)
    before = _listing(path.parent)
    out, rich, seconds = _execute(path, tmp_path)
    print(f"{path.name}: {seconds:.1f} s")
    check = CHECKS.get(path.name)
    if check is not None:
        check(out, rich, tmp_path)
    assert _listing(path.parent) == before
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    kept = _not_ignored([f"{path.parent.relative_to(ROOT).as_posix()}/{name}" for name in written])
    assert kept == [], f"{path.name} leaves files in notebooks/ that git does not ignore: {kept}"


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def _not_ignored(paths: list[str]) -> list[str]:
    """Those of ``paths`` (relative to the repository) that the repository's .gitignore does not ignore: what
    ``git status`` would show as new. Without git, what is not under a ``runs/`` folder (.gitignore's rule)."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        return [p for p in paths if "runs" not in p.split("/")[:-1]]
    done = subprocess.run([git, "check-ignore", "--no-index", "--stdin"], input="\n".join(paths), cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr  # 1: none of them is ignored
    ignored = set(done.stdout.splitlines())
    return [p for p in paths if p not in ignored]


def test_files_outside_runs_are_not_ignored():
    """The check above is no formality: a figure saved beside the notebook would be a new file in the repo."""
    assert _not_ignored(["notebooks/proof_rate.png", "notebooks/runs/notebook/proof_rate.png"]) == [
        "notebooks/proof_rate.png"]


def test_notebooks_are_stored_without_large_outputs():
    """Stored outputs bloat diffs and go stale: clear them (or keep them small) before committing."""
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        size = sum(len(json.dumps(c.get("outputs", []))) for c in nb["cells"] if c["cell_type"] == "code")
        assert size < MAX_STORED_OUTPUTS, (f"{path.name} stores {size:,} characters of outputs; clear them "
                                           "before committing (jupyter nbconvert --clear-output --inplace)")
