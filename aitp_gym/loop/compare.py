"""``aitp compare CONFIG... --out DIR``: several loop configs run side by side, in one table and one plot.

Each config runs as its own loop in ``DIR/<config name>/`` (its own ``tb/``, so ``tensorboard --logdir DIR`` shows
them side by side; a run already complete there is read, not run again). Beside them, the references at the same
budget on the same held-out theorems, measured in the same run: each config's own round 0 (the starting models)
and **brute force**, the model-free policy trying *every* enumerated tactic per expanded goal (``DIR/brute-force``,
one per distinct env, evaluation set and search budget). ``DIR/comparison.md`` holds the table (proof rate per
round, per config, with both references and the round-last ÷ round-0 and ÷ brute-force ratios) and
``DIR/comparison.png`` a curve per config with the references as lines.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitp_gym.loop.config import LoopConfig, check_before_work, config_to_yaml, load_config
from aitp_gym.loop.run import Loop
from aitp_gym.optional import require
from aitp_gym.trace import atomic_write_text, safe_name


@dataclass
class Entry:
    name: str
    config: LoopConfig
    rows: list[dict[str, Any]]
    brute_force: dict[str, Any]
    """The brute-force reference's evaluation summary (``search.summarise``) for this config's budget."""

    @property
    def rates(self) -> list[float]:
        return [row["eval"]["proof_rate"] for row in self.rows]


def brute_force_config(config: LoopConfig) -> LoopConfig:
    """The same env, evaluation theorems, planner and budget, with the model-free policy and critic trying every
    enumerated tactic (``tactics_per_expansion: null``), evaluated once (round 0, nothing learned)."""
    return dataclasses.replace(
        config, rounds=0,
        prove=dataclasses.replace(config.prove, tactics_per_expansion=None),
        model=dataclasses.replace(config.model, policy="uniform", critic="default", pretrain_steps=0),
        learn=dataclasses.replace(config.learn, learners=[], settings={}))


def _reference_key(config: LoopConfig) -> str:
    """Configs with the same key share one brute-force run."""
    b = brute_force_config(config)
    key = {"env": b.env, "seed": b.seed, "prove": dataclasses.asdict(b.prove)}
    key["prove"].pop("train_theorems")
    key["prove"].pop("train_max_expansions")
    key["prove"].pop("brute_force_reference")
    key["prove"].pop("model_free_reference")
    key["prove"].pop("train_pool_size")
    return json.dumps(key, sort_keys=True)


def _run(config: LoopConfig, run_dir: Path, progress: bool, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """The rows of a loop run in ``run_dir``: run (or continue) it, or read it when it is complete."""
    saved = run_dir / "config.yaml"
    if saved.is_file() and saved.read_text() != config_to_yaml(config):
        raise ValueError(f"{run_dir} holds a run of another configuration; choose another --out or delete it")
    loop = Loop(config, run_dir, progress=progress, log=log)
    if len(loop.finished_rounds()) > config.rounds:
        return loop.finished_rounds()
    return loop.run()


def compare(configs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], overrides: Sequence[str] = (),
            progress: bool = True, log: Callable[[str], None] = print) -> list[Entry]:
    """Run every config (with ``overrides`` applied to each) and its references; write the table and the plot."""
    out = Path(out)
    loaded = []
    for path in configs:
        config = load_config(path, overrides)
        check_before_work(config)
        loaded.append((safe_name(Path(path).stem), config))
    names = [name for name, _ in loaded]
    if len(set(names)) != len(names):
        raise ValueError(f"two configs have the same name ({', '.join(names)}): rename one")
    references: dict[str, dict[str, Any]] = {}
    entries = []
    for name, config in loaded:
        key = _reference_key(config)
        if key not in references:
            folder = out / ("brute-force" if not references else f"brute-force-{len(references) + 1}")
            log(f"{name}: brute-force reference in {folder}")
            references[key] = _run(brute_force_config(config), folder, progress, log)[0]["eval"]
        log(f"{name}: the loop in {out / name}")
        entries.append(Entry(name, config, _run(config, out / name, progress, log), references[key]))
    atomic_write_text(out / "comparison.md", table(entries))
    try:
        require("matplotlib", "aitp compare's plot")
    except ImportError:
        return entries
    plot(entries, out / "comparison.png")
    return entries


def table(entries: Sequence[Entry]) -> str:
    """The Markdown table: proof rate per round per config, and the references at the same budget."""
    rounds = max(len(e.rows) for e in entries)
    head = ["config", "policy", "learners", "expansions", "tactics / expansion", *(f"round {r}" for r in range(rounds)),
            "last ÷ round 0", "brute force", "last ÷ brute force"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in entries:
        first, last = e.rows[0]["eval"], e.rows[-1]["eval"]
        cells = [f"{row['eval']['proved']}/{row['eval']['attempted']}" for row in e.rows]
        cells += [""] * (rounds - len(cells))
        bf = e.brute_force
        lines.append("| " + " | ".join([
            e.name, e.config.model.policy, ", ".join(e.config.learn.learners) or "–",
            str(e.config.prove.max_expansions), str(e.config.prove.tactics_per_expansion or "all"), *cells,
            _ratio(last["proved"], first["proved"]), f"{bf['proved']}/{bf['attempted']} (all tactics)",
            _ratio(last["proved"], bf["proved"])]) + " |")
    lines.append("")
    lines.append("Held-out theorems of each config's valid split at its own budget (expansions); round 0 is the "
                 "starting models; brute force is the model-free policy trying every enumerated tactic per expanded "
                 "goal at the same budget on the same theorems, measured in this run.")
    return "\n".join(lines) + "\n"


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}×" if b else "–"


def plot(entries: Sequence[Entry], out: Path) -> Path:
    """A curve per config (held-out proof rate per round) and each reference as a horizontal line."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 3.8), dpi=120)
    ax = fig.subplots()
    groups: dict[int, list[int]] = {}  # configs that share one brute-force reference: one line, one label
    for i, e in enumerate(entries):
        groups.setdefault(id(e.brute_force), []).append(i)
    for i, e in enumerate(entries):
        colour = f"C{i % 10}"
        ax.plot(range(len(e.rows)), [100 * r for r in e.rates], marker="o", color=colour, label=e.name)
        ax.axhline(100 * e.rates[0], color=colour, linestyle=":", linewidth=1)
        members = groups[id(e.brute_force)]
        if members[0] != i:
            continue
        bf = e.brute_force
        shared = len(groups) == 1
        who = "" if shared else " (" + ", ".join(entries[j].name for j in members) + ")"
        ax.axhline(100 * bf["proof_rate"], color="black" if shared else colour, linestyle="--", linewidth=1,
                   label=f"brute force{who}: {bf['proved']}/{bf['attempted']}")
    ax.set_xticks(range(max(len(e.rows) for e in entries)))
    ax.set_xlabel("round (dotted: each config's round 0; dashed: brute force at the same budget)")
    ax.set_ylabel("held-out theorems proved (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = out.with_name(out.name + ".tmp.png")
    fig.savefig(tmp)
    os.replace(tmp, out)
    return out
