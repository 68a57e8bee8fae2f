"""The learning curve of a loop run, drawn from the run's own TensorBoard scalars.

``aitp plot RUN_DIR [-o curve.png]`` reads ``eval/proof_rate`` and ``train/proof_rate`` from the event file in
``RUN_DIR/tb`` (the numbers TensorBoard shows) and draws them per round with matplotlib, with the references as
lines: the held-out rate of round 0 (dotted) and, when the run measured it (``prove.brute_force_reference``),
brute force at the same budget (dashed, ``eval/brute_force_proof_rate``). ``aitp loop`` writes
``RUN_DIR/curve.png`` the same way after every round when matplotlib is installed (the ``learn`` extra).
"""

from __future__ import annotations

import os
from pathlib import Path

from aitp_gym.optional import require

CURVES = (("eval/proof_rate", "held-out (valid)"), ("train/proof_rate", "train slice"))


def read_scalars(run_dir: str | os.PathLike[str]) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the run's TensorBoard event files: ``{tag: [(step, value), ...]}``, by step, the last
    value written for a step winning (a resumed run may rewrite a round)."""
    ea = require("tensorboard.backend.event_processing.event_accumulator", "reading TensorBoard scalars")
    tb = Path(run_dir) / "tb"
    if not tb.is_dir():
        raise FileNotFoundError(f"{run_dir} has no tb/ folder: is it a run folder written by aitp loop?")
    acc = ea.EventAccumulator(str(tb), size_guidance={ea.SCALARS: 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["scalars"]:
        by_step = {e.step: e.value for e in acc.Scalars(tag)}
        out[tag] = sorted(by_step.items())
    return out


def plot_curve(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
               title: str | None = None) -> Path:
    """Draw the proof rates per round; returns the PNG's path (default ``RUN_DIR/curve.png``)."""
    require("matplotlib", "aitp plot")
    # a bare Figure draws with the Agg canvas without touching pyplot's global backend (a notebook keeps inline plots)
    from matplotlib.figure import Figure

    scalars = read_scalars(run_dir)
    if not scalars.get("eval/proof_rate"):
        raise ValueError(f"{run_dir} has no eval/proof_rate scalars yet: no round has finished")
    out = Path(out) if out is not None else Path(run_dir) / "curve.png"
    fig = Figure(figsize=(5.5, 3.4), dpi=120)
    ax = fig.subplots()
    for i, (tag, label) in enumerate(CURVES):
        points = scalars.get(tag)
        if points:
            steps, values = zip(*points, strict=True)
            ax.plot(steps, [100 * v for v in values], marker="o", label=label, color=f"C{i}")
    held_out = scalars["eval/proof_rate"]
    if held_out[0][0] == 0:  # the references, as aitp compare draws them
        ax.axhline(100 * held_out[0][1], color="C0", linestyle=":", linewidth=1,
                   label=f"round 0 (the starting models): {100 * held_out[0][1]:.0f}%")
    brute_force = scalars.get("eval/brute_force_proof_rate")
    if brute_force:
        ax.axhline(100 * brute_force[0][1], color="black", linestyle="--", linewidth=1,
                   label=f"brute force (every tactic, same budget): {100 * brute_force[0][1]:.0f}%")
    model_free = scalars.get("eval/model_free_proof_rate")
    if model_free:
        ax.axhline(100 * model_free[0][1], color="grey", linestyle="-.", linewidth=1,
                   label=f"model-free (same tactics per expansion and budget): {100 * model_free[0][1]:.0f}%")
    ax.set_xlabel("round")
    ax.set_ylabel("theorems proved (%)")
    ax.set_xticks(sorted({s for tag, _ in CURVES for s, _ in scalars.get(tag, [])}))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or Path(run_dir).name)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.png")
    fig.savefig(tmp)
    os.replace(tmp, out)
    return out
