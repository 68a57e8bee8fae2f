"""The README's Python snippets run exactly as printed, in order, in a fresh interpreter."""

from __future__ import annotations

import re
import subprocess
import sys

from doubles import ROOT


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S | re.M)


def test_readme_snippets_run_as_printed(tmp_path):
    blocks = python_blocks()
    assert len(blocks) >= 2 and "assert result.proved" in blocks[0]
    script = "\n".join(blocks)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    # the outputs the README shows in its comments
    for block in blocks:
        for shown in re.findall(r"print\(.*\)\s+# (.+)$", block, re.M):
            assert shown.strip() in out.stdout, (shown, out.stdout)
