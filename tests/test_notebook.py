"""The quickstart notebook runs from top to bottom (its code cells, in order, in a fresh folder)."""

import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    namespace: dict = {}
    for cell in cells:
        exec(compile("".join(cell["source"]), f"{NOTEBOOK.name} cell", "exec"), namespace)
    out = capsys.readouterr().out
    assert (tmp_path / "runs" / "notebook" / "trace.json.gz").exists()
    for name in ("bestfs", "bfs", "fringe", "updown", "htps"):
        assert f"{name:7s} proved=True" in out
