"""The layout rules of the code: the kernel imports no application, env, planner, model or torch; outside
``envs/``, nothing names an environment (they declare what others need in ``EnvTraits``); and the tests are
organised like the code: every source module has a test module (``COVERAGE``) that imports or names it."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from doubles import ROOT

KERNEL = ["tree", "proof", "attempt", "policy", "backend", "trace", "env", "errors", "optional", "registration",
          "progress"]
ENV_IDS = ("SR-v0", "HOList-v0", "Lean-v0")
# models of one prover: the HOList model reads HOL Light's theorem database and grammar
ENV_SPECIFIC = {"agents/holist_model.py", "agents/learners/premise.py", "agents/holist_knn.py"}


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


# ---------------------------------------------------------------------------------------------- tests like the code
TESTS = ROOT / "tests"
# Where the source folders install (setup.cfg package_dir).
PACKAGES = {"aitp_gym": "aitp_gym", "envs": "aitp_gym.envs", "search": "aitp_gym.search", "agents": "aitp_gym.agents"}
# The test folders, one per part of the code; test doubles live in tests/doubles/, shared by all of them.
TEST_FOLDERS = ("core", "search", "envs/sr", "envs/holist", "envs/lean", "agents", "apps")

# Every source module (each .py under aitp_gym/, envs/, search/ and agents/; an __init__.py only when it defines a
# function or a class) -> the test module that tests it. That test module must import or name it.
COVERAGE = {
    # kernel
    "aitp_gym/tree.py": "core/test_tree.py",
    "aitp_gym/proof.py": "core/test_proof.py",
    "aitp_gym/attempt.py": "core/test_attempt.py",
    "aitp_gym/policy.py": "core/test_policy.py",
    "aitp_gym/backend.py": "core/test_backend.py",
    "aitp_gym/trace.py": "core/test_trace.py",
    "aitp_gym/env.py": "core/test_env.py",
    "aitp_gym/errors.py": "core/test_errors.py",
    "aitp_gym/optional.py": "core/test_optional.py",
    "aitp_gym/registration.py": "core/test_registration.py",
    "aitp_gym/progress.py": "core/test_progress.py",
    "aitp_gym/config.py": "core/test_config.py",
    # applications
    "aitp_gym/cli/__init__.py": "apps/test_cli.py",
    "aitp_gym/cli/common.py": "apps/test_cli.py",
    "aitp_gym/cli/prove.py": "apps/test_cli.py",
    "aitp_gym/cli/theorems.py": "apps/test_cli.py",
    "aitp_gym/cli/hol_light.py": "apps/test_cli.py",
    "aitp_gym/cli/loop.py": "apps/test_loop.py",
    "aitp_gym/cli/compare.py": "apps/test_compare.py",
    "aitp_gym/cli/plot.py": "apps/test_plot.py",
    "aitp_gym/cli/visualise.py": "apps/test_visualise.py",
    "aitp_gym/cli/prepare.py": "envs/holist/test_holist_proof_logs.py",
    "aitp_gym/loop/config.py": "apps/test_loop.py",
    "aitp_gym/loop/models.py": "apps/test_loop.py",
    "aitp_gym/loop/run.py": "apps/test_loop.py",
    "aitp_gym/loop/workers.py": "apps/test_loop.py",
    "aitp_gym/loop/compare.py": "apps/test_compare.py",
    "aitp_gym/visualise/data.py": "apps/test_visualise.py",
    "aitp_gym/visualise/page.py": "apps/test_visualise.py",
    "aitp_gym/plot.py": "apps/test_plot.py",
    "aitp_gym/wrappers.py": "apps/test_wrappers.py",
    "aitp_gym/adversarial.py": "envs/sr/test_sr_game.py",
    # planners
    "search/__init__.py": "search/test_search_base.py",
    "search/base.py": "search/test_search_base.py",
    "search/bestfs.py": "search/test_search_base.py",
    "search/bfs.py": "search/test_search_base.py",
    "search/fringe.py": "search/test_planners.py",
    "search/updown.py": "search/test_planners.py",
    "search/htps.py": "search/test_planners.py",
    # environments
    "envs/sr/expr.py": "envs/sr/test_sr_backend.py",
    "envs/sr/backend.py": "envs/sr/test_sr_backend.py",
    "envs/sr/splits.py": "envs/sr/test_sr_splits.py",
    "envs/sr/env.py": "envs/sr/test_sr_env.py",
    "envs/sr/features.py": "envs/sr/test_sr_features.py",
    "envs/sr/game.py": "envs/sr/test_sr_game.py",
    "envs/holist/grammar.py": "envs/holist/test_holist_backend.py",
    "envs/holist/backend.py": "envs/holist/test_holist_backend.py",
    "envs/holist/database.py": "envs/holist/test_holist_fidelity.py",
    "envs/holist/sources.py": "envs/holist/test_holist_fidelity.py",
    "envs/holist/fidelity.py": "envs/holist/test_holist_fidelity.py",
    "envs/holist/server.py": "envs/holist/test_holist_server.py",
    "envs/holist/prover.py": "envs/holist/test_holist_server.py",
    "envs/holist/env.py": "envs/holist/test_holist_server.py",
    "envs/holist/tactics.py": "envs/holist/test_holist_tactics.py",
    "envs/holist/proof_logs.py": "envs/holist/test_holist_proof_logs.py",
    "aitp_gym/outcome_cache.py": "envs/holist/test_outcome_cache.py",
    "envs/lean/backend.py": "envs/lean/test_lean_backend.py",
    "envs/lean/benchmark.py": "envs/lean/test_lean_env.py",
    "envs/lean/env.py": "envs/lean/test_lean_env.py",
    # agents
    "agents/text.py": "agents/test_agents.py",
    "agents/buffers.py": "agents/test_agents.py",
    "agents/training.py": "agents/test_agents.py",
    "agents/seq2seq.py": "agents/test_agents.py",
    "agents/critic.py": "agents/test_agents.py",
    "agents/feature_critic.py": "agents/test_feature_critic.py",
    "agents/learners/seq2seq.py": "agents/test_agents.py",
    "agents/learners/dpo.py": "agents/test_agents.py",
    "agents/learners/ilql.py": "agents/test_agents.py",
    "agents/learners/critic.py": "agents/test_agents.py",
    "agents/ranker.py": "agents/test_ranker.py",
    "agents/holist_knn.py": "agents/test_holist_knn.py",
    "agents/learners/knn.py": "agents/test_holist_knn.py",
    "agents/learners/ranker.py": "agents/test_ranker.py",
    "agents/learners/ilql_ranker.py": "agents/test_ilql_ranker.py",
    "agents/holist_model.py": "agents/test_holist_model.py",
    "agents/learners/premise.py": "agents/test_holist_model.py",
    "agents/models.py": "agents/test_registries.py",
    "agents/learners/__init__.py": "agents/test_registries.py",
}
# Source modules with no test module of their own, each with the reason. Pure data or constant modules would go
# here; today there are none: every module has code of its own to test.
NO_TEST_MODULE: dict[str, str] = {}


def _source_modules() -> dict[str, str]:
    """Every source module that needs a test module: repository path -> dotted name."""
    out = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__main__" or "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                tree = ast.parse(path.read_text())
                if not any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) for n in tree.body):
                    continue  # only imports and registrations
                parts = parts[:-1]
            out[path.relative_to(ROOT).as_posix()] = ".".join([package, *parts])
    return out


def _public_names(path: Path) -> set[str]:
    """The functions, classes and constants a module defines at its top level, except private ones."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return {n for n in names if not n.startswith("_")}


def _names_the_module(test_text: str, dotted: str, own_names: set[str]) -> bool:
    """The test's text names the module (``aitp_gym.envs.sr.expr``, or ``from aitp_gym.envs.sr import expr``) or one
    of the public names that only this module defines."""
    package, _, stem = dotted.rpartition(".")
    if re.search(rf"(?<![\w.]){re.escape(dotted)}(?!\w)", test_text):
        return True
    if re.search(rf"from {re.escape(package)} import [^\n]*\b{stem}\b", test_text):
        return True
    return any(re.search(rf"(?<![\w.]){re.escape(name)}\b", test_text) for name in own_names)


def _unique_names(modules: dict[str, str]) -> dict[str, set[str]]:
    """Each module's public names that no other source module defines (``add_parser`` names none of them)."""
    names = {source: _public_names(ROOT / source) for source in modules}
    count: dict[str, int] = {}
    for found in names.values():
        for name in found:
            count[name] = count.get(name, 0) + 1
    return {source: {n for n in found if count[n] == 1} for source, found in names.items()}


def test_every_source_module_has_a_test_module():
    modules = _source_modules()
    assert len(modules) > 60
    missing = sorted(set(modules) - set(COVERAGE) - set(NO_TEST_MODULE))
    assert missing == [], f"add a test module for each, and its line to COVERAGE in {__file__}: {missing}"
    stale = sorted((set(COVERAGE) | set(NO_TEST_MODULE)) - set(modules))
    assert stale == [], f"no such source module (renamed or removed?): {stale}"
    assert not set(COVERAGE) & set(NO_TEST_MODULE)
    own = _unique_names(modules)
    bad = []
    for source, test in COVERAGE.items():
        path = TESTS / test
        if not path.is_file():
            bad.append(f"{source}: {test} does not exist")
        elif not _names_the_module(path.read_text(), modules[source], own[source]):
            bad.append(f"{source}: {test} neither imports {modules[source]} nor names any of its own public names")
    assert bad == [], "\n".join(bad)


def test_tests_sit_in_the_folder_of_what_they_test():
    """One folder per part of the code, test doubles in tests/doubles/, and no two test modules of the same name
    (pytest imports each test module by its file name)."""
    tests = sorted(p.relative_to(TESTS).as_posix() for p in TESTS.rglob("test_*.py"))
    assert [t for t in tests if t.rpartition("/")[0] not in TEST_FOLDERS] == []
    names = [t.rpartition("/")[2] for t in tests]
    assert sorted({n for n in names if names.count(n) > 1}) == []
    assert set(COVERAGE.values()) <= set(tests)
    assert sorted(p.name for p in TESTS.glob("*.py")) == ["conftest.py"]


def test_the_coverage_check_can_fail(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import os\nLIMIT = 3\n\n\ndef parse_thing(x):\n    return x\n\n\nclass _Hidden:\n    pass\n")
    assert _public_names(source) == {"LIMIT", "parse_thing"}
    dotted = "aitp_gym.envs.sr.expr"
    assert _names_the_module("from aitp_gym.envs.sr import expr as E", dotted, set())
    assert _names_the_module("import aitp_gym.envs.sr.expr", dotted, set())
    assert _names_the_module("x = parse_thing(1)", dotted, {"parse_thing"})
    assert not _names_the_module("from aitp_gym.envs.sr import expression", dotted, set())
    assert not _names_the_module("import aitp_gym.envs.sr.expr_tools", dotted, set())
    assert not _names_the_module("y = reparse_thing(1); z = obj.parse_thing", dotted, {"parse_thing"})
