"""The layout rules of the code: the kernel imports no application, env, planner, model or torch; outside
``envs/``, nothing names an environment (they declare what others need in ``EnvTraits``)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNEL = ["tree", "proof", "attempt", "policy", "backend", "trace", "env", "errors", "optional", "registration",
          "progress"]
ENV_IDS = ("SR-v0", "HOList-v0", "Lean-v0")
# models of one prover: the HOList model reads HOL Light's theorem database and grammar
ENV_SPECIFIC = {"agents/holist_model.py", "agents/learners/premise.py"}


def test_the_kernel_imports_no_env_planner_model_app_or_torch():
    code = ("import json, sys; import " + ", ".join(f"aitp_gym.{m}" for m in KERNEL) + "; "
            "print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                       cwd=ROOT).stdout)
    apps = {"aitp_gym.cli", "aitp_gym.loop", "aitp_gym.visualise", "aitp_gym.plot", "aitp_gym.wrappers",
            "aitp_gym.adversarial"}
    bad = [m for m in loaded if m.startswith(("aitp_gym.envs.", "aitp_gym.search", "aitp_gym.agents", "torch"))
           or m.split(".")[0] in ("torch", "transformers") or any(m == a or m.startswith(a + ".") for a in apps)]
    assert bad == [], f"the kernel imported {bad}"


def _code_strings_and_imports(path: Path) -> tuple[list[str], list[str]]:
    """String constants that are not docstrings, and modules imported, in a Python file."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    # attribute docstrings: a bare string right after an assignment
    for n in ast.walk(tree):
        for field in ("body", "orelse"):
            block = getattr(n, field, None)
            for stmt in block if isinstance(block, list) else []:
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                    docstrings.add(id(stmt.value))
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
               and id(n) not in docstrings]
    imports = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imports += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return strings, imports


def test_outside_envs_no_code_names_an_environment():
    files = [p for folder in ("agents", "search") for p in (ROOT / folder).rglob("*.py")]
    files += [ROOT / "aitp_gym" / f"{m}.py" for m in KERNEL]
    assert len(files) > 20
    bad = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if rel in ENV_SPECIFIC:
            continue
        strings, imports = _code_strings_and_imports(path)
        bad += [f"{rel}: {s!r}" for s in strings if any(e in s for e in ENV_IDS)]
        bad += [f"{rel}: import {m}" for m in imports if m.startswith("aitp_gym.envs")]
    assert bad == [], "declare it in the env's EnvTraits instead:\n" + "\n".join(bad)


def test_the_layout_check_can_fail(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text('"""Docs may say SR-v0."""\nfrom aitp_gym.envs.sr import backend\nX = "SR-v0"\n')
    strings, imports = _code_strings_and_imports(sample)
    assert strings == ["SR-v0"] and imports == ["aitp_gym.envs.sr"]
