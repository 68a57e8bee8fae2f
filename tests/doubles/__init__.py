"""Test doubles, in one place: ``scripted`` (``ScriptedProver``, ``ScriptedPolicy``, ``ScriptedCritic``) and
``lean_double`` (``DojoTestDouble`` and the scripted Lean world the Lean-v0 tests share). Every test folder imports
them as ``from doubles.scripted import ...`` (pyproject.toml puts ``tests/`` on ``sys.path`` for pytest).

``ROOT`` is the repository's root folder, for tests that read its files (configs, examples, notebooks, docs).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
