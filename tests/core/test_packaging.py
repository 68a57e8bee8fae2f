"""Packaging: one import name (``aitp_gym``), optional extras, and a core that works without them.

The folders ``envs/``, ``search/`` and ``agents/`` sit at the top of the repository but install as
``aitp_gym.envs``, ``aitp_gym.search`` and ``aitp_gym.agents`` (setuptools ``package_dir``).
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest
from doubles import ROOT

MAPPED = {"aitp_gym": "aitp_gym", "envs": "aitp_gym/envs", "search": "aitp_gym/search", "agents": "aitp_gym/agents"}
OPTIONAL = ("torch", "transformers", "tensorboard", "matplotlib", "yaml", "lean_dojo", "stable_baselines3",
            "sb3_contrib", "pettingzoo", "ray")
SKIP_DIRS = {".git", ".make", "build", "runs", "dist", ".pytest_cache", ".ruff_cache", "__pycache__"}


def _copy_source(dest: Path) -> Path:
    """The repository as a clean checkout would have it (no build products, no run folders)."""

    def ignore(_dir: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP_DIRS or n.endswith(".egg-info")}

    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = _copy_source(tmp / "src")
    out = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(src)], check=True, cwd=tmp)
    (whl,) = out.glob("aitp_gym-*.whl")
    return whl


def test_wheel_installs_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"aitp_gym"}, f"the wheel must install only aitp_gym, it has {sorted(top)}"
    dist_info = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert zipfile.ZipFile(wheel).read(dist_info).decode().split() == ["aitp_gym"]


def test_wheel_holds_every_module_and_data_file(wheel: Path) -> None:
    """A new subpackage (say agents/models/) must be added to setup.cfg's list, and its data files (the
    visualiser's page: .html, .css, .js) to [options.package_data], or they silently go missing."""
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for folder, target in MAPPED.items():
        for p in (ROOT / folder).rglob("*"):
            if p.is_file() and (p.suffix in (".py", ".ml", ".html", ".css", ".js") or p.name.endswith(".json.gz")) \
                    and "__pycache__" not in p.parts:
                expected.add(f"{target}/{p.relative_to(ROOT / folder).as_posix()}")
    missing = sorted(expected - names)
    assert not missing, (f"missing from the wheel (add the package to setup.cfg [options] packages, its data "
                         f"files to [options.package_data]): {missing}")
    assert "aitp_gym/envs/holist/aitp_server.ml" in names
    assert {f"aitp_gym/visualise/assets/page.{ext}" for ext in ("html", "css", "js")} <= names


def test_installs_beside_a_package_named_agents(wheel: Path, tmp_path: Path) -> None:
    """The OpenAI Agents SDK imports as ``agents``; both must import after installing both."""
    other = tmp_path / "other"
    (other / "agents").mkdir(parents=True)
    (other / "agents" / "__init__.py").write_text("WHO = 'the other agents package'\n")
    (other / "envs").mkdir()
    (other / "envs" / "__init__.py").write_text("WHO = 'the other envs package'\n")
    (other / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "other-agents"
        version = "1.0"
        [tool.setuptools]
        packages = ["agents", "envs"]
        """))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    for target in (str(other), str(wheel)):  # the other package first, then ours: nothing may overwrite it
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                        target], check=True, cwd=tmp_path, capture_output=True)
    code = textwrap.dedent("""\
        import json, agents, envs, aitp_gym, aitp_gym.agents, aitp_gym.envs.sr, aitp_gym.search
        from aitp_gym.search import HTPS
        print(json.dumps({"agents": agents.WHO, "envs": envs.WHO, "aitp_gym": aitp_gym.__file__,
                          "aitp_gym.agents": aitp_gym.agents.__file__, "search": aitp_gym.search.__file__}))
        """)
    out = json.loads(subprocess.run([str(py), "-c", code], check=True, cwd=tmp_path, capture_output=True,
                                    text=True).stdout)
    assert out["agents"] == "the other agents package" and out["envs"] == "the other envs package"
    for key in ("aitp_gym", "aitp_gym.agents", "search"):
        assert out[key].startswith(str(env_dir)), out


@pytest.mark.parametrize("cwd", ["repo", "elsewhere"])
def test_editable_install_maps_the_folders(cwd: str, tmp_path: Path) -> None:
    code = ("import json, aitp_gym.envs.sr.env, aitp_gym.search.htps, aitp_gym.agents; "
            "print(json.dumps([aitp_gym.envs.sr.env.__file__, aitp_gym.search.htps.__file__, "
            "aitp_gym.agents.__file__]))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         cwd=ROOT if cwd == "repo" else tmp_path).stdout
    files = [Path(f) for f in json.loads(out)]
    assert files == [ROOT / "envs/sr/env.py", ROOT / "search/htps.py", ROOT / "agents/__init__.py"]


BARE = re.compile(r"^\s*(?:from|import)\s+(envs|search|agents)\b", re.MULTILINE)
BARE_ENTRY = re.compile(r"""["'](envs|search|agents)\.[a-z_.]+:""")


def _sources() -> list[tuple[Path, str]]:
    out = []
    for p in ROOT.rglob("*"):
        if not p.is_file() or SKIP_DIRS & set(p.relative_to(ROOT).parts) or p.suffix not in (".py", ".md", ".ipynb"):
            continue
        text = p.read_text(encoding="utf-8")
        if p.suffix == ".ipynb":
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
        out.append((p, text))
    return out


def test_no_bare_imports_of_the_mapped_folders() -> None:
    """``import search`` works only from the repository root, by accident; users must write ``aitp_gym.search``."""
    sources = _sources()
    assert len(sources) > 20
    bad = [f"{p.relative_to(ROOT)}: {m.group(0).strip()}" for p, text in sources
           for m in [*BARE.finditer(text), *BARE_ENTRY.finditer(text)]]
    assert not bad, "use the aitp_gym.* names:\n" + "\n".join(bad)


def test_the_bare_import_check_can_fail() -> None:
    assert BARE.search("x = 1\nfrom search import HTPS\n") and BARE.search("    import agents.models")
    assert BARE_ENTRY.search('entry_point="' + "envs" + '.sr.env:SymbolicRegressionEnv"')
    assert not BARE.search("from aitp_gym.search import HTPS\nimport searchlight")


def _extras() -> dict[str, set[str]]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return {k: {line.strip() for line in v.splitlines() if line.strip()}
            for k, v in cfg["options.extras_require"].items()}


def test_extras() -> None:
    extras = _extras()
    assert {"learn", "lean", "sb3", "pettingzoo", "ray", "all", "dev"} <= set(extras)
    union = set().union(*(v for k, v in extras.items() if k not in ("all", "dev")))
    assert extras["all"] == union, "keep `all` the union of the other extras"
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    core = {re.split(r"[<>=;\s]", line.strip())[0] for line in cfg["options"]["install_requires"].splitlines()
            if line.strip()}
    assert core == {"gymnasium", "numpy", "tqdm"}
    assert '".[all,dev]"' in (ROOT / "Makefile").read_text(), "make demo/test must install every extra"


BLOCKER = textwrap.dedent("""\
    import sys
    BLOCKED = set(%r)
    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
            return None
    sys.meta_path.insert(0, Blocker())
    """) % (OPTIONAL,)


def test_core_works_without_optional_packages() -> None:
    code = BLOCKER + textwrap.dedent("""\
        import gymnasium as gym
        import aitp_gym, aitp_gym.agents, aitp_gym.cli, aitp_gym.envs.holist.env
        from aitp_gym.search import PLANNERS, BestFS
        env = gym.make("SR-v0")
        env.reset(options={"target": "x + sin(x)"})
        result = BestFS(max_expansions=100).search(env)
        assert result.proved, result
        for name in PLANNERS:
            env.reset(options={"target": "x*x"})
            assert PLANNERS[name](max_expansions=60).search(env).proved, name
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not loaded, loaded
        from aitp_gym.errors import DependencyNotInstalled
        from aitp_gym.optional import require
        try:
            require("torch.utils.tensorboard", "TensorBoard logging")
        except DependencyNotInstalled as e:
            assert isinstance(e, ImportError)
            print(e)
        else:
            raise AssertionError("no error without torch")
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert 'pip install "aitp-gym[learn]"' in out.stdout and "TensorBoard logging" in out.stdout


def test_the_loop_on_a_core_install_names_its_extra(tmp_path: Path) -> None:
    """``aitp loop`` without the learn extra (no PyYAML, no torch): the pip line that fixes it, not a traceback."""
    config = tmp_path / "c.yaml"
    config.write_text("env: SR-v0\n")
    code = BLOCKER + "from aitp_gym.cli import main; sys.exit(main(sys.argv[1:]))"
    out = subprocess.run([sys.executable, "-c", code, "loop", str(config), "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "'yaml'" in out.stderr and 'pip install "aitp-gym[learn]"' in out.stderr, out.stderr


def test_every_imported_third_party_package_is_declared() -> None:
    """Each top-level package the code imports is the core's, an extra's (via ``EXTRAS``) or the standard
    library's, so a missing requirement (PyYAML was one) fails here and not on a user's core install."""
    from aitp_gym.optional import EXTRAS

    declared = {"gymnasium", "numpy", "tqdm", *EXTRAS, "aitp_gym", "pytest", "hypothesis", "selenium", "nbclient",
                "nbformat", "setuptools"}
    imported = set()
    for folder in MAPPED:
        for p in (ROOT / folder).rglob("*.py"):
            for m in re.finditer(r"^\s*(?:from\s+(\w+)[\w.]*\s+import\s|import\s+(\w+)[\w.]*\s*(?:$|,| as ))",
                                 p.read_text(), re.M):
                imported.add(m.group(1) or m.group(2))
    unknown = sorted(m for m in imported - declared - set(sys.stdlib_module_names) if not m.startswith("_"))
    assert unknown == [], f"imported but in no requirement or extra: {unknown}"


def test_require_names_the_extra_of_each_package() -> None:
    from aitp_gym.optional import EXTRAS

    extras = _extras()
    for module, extra in EXTRAS.items():
        assert extra in extras, (module, extra)
    assert set(EXTRAS) == set(OPTIONAL)
