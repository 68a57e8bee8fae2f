"""The loop itself: a run folder driven round by round (``Loop(config, run_dir).run()``)."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from aitp_gym.agents.learners import LEARNERS
from aitp_gym.agents.models import MODEL_FREE, kind_of
from aitp_gym.backend import SupportsPrepare
from aitp_gym.loop.config import LoopConfig, config_to_yaml, config_warnings, train_pool
from aitp_gym.loop.models import (
    ROLES,
    Model,
    Models,
    quiet_transformers,
    resolve_device,
    resolve_goal_view,
    torch_threads,
)
from aitp_gym.loop.workers import ProverActor, prove_in_pool, prove_on_ray, start_ray
from aitp_gym.outcome_cache import OutcomeCache
from aitp_gym.progress import progress
from aitp_gym.search import summarise
from aitp_gym.trace import atomic_write_text, iter_traces


class Loop:
    """One run folder, driven round by round. ``Loop(config, run_dir).run()``."""

    def __init__(self, config: LoopConfig, run_dir: str | os.PathLike[str], progress: bool = True,
                 log: Any = None) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._tb = None
        self._ray = None

    # -- run-folder state ---------------------------------------------------------------------------
    @property
    def rounds_file(self) -> Path:
        return self.run_dir / "rounds.jsonl"

    def finished_rounds(self) -> list[dict[str, Any]]:
        if not self.rounds_file.exists():
            return []
        return [json.loads(line) for line in self.rounds_file.read_text().splitlines() if line.strip()]

    def round_dir(self, r: int) -> Path:
        return self.run_dir / "rounds" / f"{r:03d}"

    @property
    def outcome_cache_path(self) -> Path:
        """``outcomes.sqlite``: with ``prove.outcome_cache``, the tactic outcomes every round and worker shares."""
        return self.run_dir / "outcomes.sqlite"

    def _record(self, row: dict[str, Any]) -> None:
        rows = self.finished_rounds() + [row]
        atomic_write_text(self.rounds_file, "".join(json.dumps(x) + "\n" for x in rows))

    # -- phases -------------------------------------------------------------------------------------
    def _prove(self, split: str, theorem_ids: list[str], out_dir: Path, models: dict[str, Model],
               label: str, **prove_overrides: Any) -> list[dict[str, Any]]:
        """Attempt ``theorem_ids`` with ``models`` (from ``Models.in_use``), one trace each in ``out_dir``, in this
        process, in worker processes or on Ray actors; the results' summaries. ``prove_overrides`` replace
        ``prove`` settings (the brute-force reference's ``tactics_per_expansion=None``)."""
        c = self.config
        out_dir.mkdir(parents=True, exist_ok=True)
        prove = {**dataclasses.asdict(c.prove), **prove_overrides}
        if split == "train" and c.prove.train_max_expansions is not None:
            prove["max_expansions"] = c.prove.train_max_expansions
        base = dict(env_id=c.env, split=split, out_dir=str(out_dir), policy=models["policy"].spec,
                    critic=models["critic"].spec, prove=prove, num_candidates=c.model.num_candidates,
                    torch_threads=c.torch_threads, goal_view=resolve_goal_view(c),
                    device=resolve_device(c.model.device))
        if c.prove.outcome_cache:  # absolute: Ray actors and worker processes may start elsewhere
            base["env_kwargs"] = {"outcome_cache": str(self.outcome_cache_path.absolute())}
        bar = progress(total=len(theorem_ids), desc=label, unit="theorems", enabled=self.progress)
        results: list[dict[str, Any]] = []

        def done(result: dict[str, Any]) -> None:
            results.append(result)
            bar.set_postfix(proved=f"{sum(r['proved'] for r in results)}/{len(results)}", refresh=False)
            bar.update(1)

        try:
            if c.ray_address is not None:
                if self._ray is None:
                    self._ray = start_ray(c.ray_address, c.workers)
                prove_on_ray(self._ray, base, theorem_ids, c.workers, done)
            elif c.workers > 1:
                prove_in_pool(base, theorem_ids, c.workers, done)
            else:
                prover = ProverActor(base, models["policy"].model, models["critic"].model)
                try:
                    for t in theorem_ids:
                        done(prover.prove(t))
                finally:
                    prover.close()
        finally:
            bar.close()
        return results

    def _summarise(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """``search.summarise``, plus, with ``prove.outcome_cache``, the cache's figures for these searches (summed
        over the workers' per-theorem counts): ``{hits, misses, hit_rate, saved_s, entries}``, where ``saved_s``
        is the prover time the hits' entries first took and ``entries`` the file's size after them."""
        summary = summarise(results)
        counts = [r["outcome_cache"] for r in results if "outcome_cache" in r]
        if counts:
            hits, misses = sum(x["hits"] for x in counts), sum(x["misses"] for x in counts)
            cache = OutcomeCache(self.outcome_cache_path)
            try:
                entries = len(cache)
            finally:
                cache.close()
            summary["outcome_cache"] = {"hits": hits, "misses": misses,
                                        "hit_rate": hits / (hits + misses) if hits + misses else 0.0,
                                        "saved_s": round(sum(x["saved_s"] for x in counts), 3), "entries": entries}
        return summary

    def _train(self, r: int, rdir: Path, models: Models) -> dict[str, Any]:
        """Every configured learner, in order, on buffers of this round's traces and the window before it."""
        from aitp_gym.agents import buffers as B
        from aitp_gym.agents.learners import NoExamples

        c = self.config
        windows = [self.round_dir(q) / "train" for q in range(max(1, r - c.learn.window + 1), r)] + [rdir / "train"]
        buffers, stats = B.build_all(rec for d in windows if d.exists() for rec in iter_traces(d))
        losses: dict[str, float] = {}
        for name in c.learn.learners:
            learner = LEARNERS[name]
            model = models.roles[learner.trains].model
            kind = kind_of(model, learner.trains)
            settings = c.learn.settings_for(name, c.seed + r, kind.learner_defaults if kind else None)
            try:
                res = learner.train(model, buffers[learner.buffer], learner.Settings(**settings), self._logger(),
                                    self._loss_offset(r), self.progress)
            except NoExamples as e:
                self.log(f"round {r}: {name} skipped: {e}")
                continue
            losses[name] = res.final_loss
        (rdir / "buffers.json").write_text(json.dumps({"traces": stats.traces, "proved": stats.proved,
                                                        "counts": stats.counts}))
        return losses

    def _loss_offset(self, r: int) -> int:
        """Round ``r``'s first optimiser step on the ``losses/*`` axis: pre-training takes the first
        ``model.pretrain_steps``, then every round ``learn.steps``."""
        return self.config.model.pretrain_steps + (r - 1) * self.config.learn.steps

    def _logger(self) -> Any:
        if self._tb is None:
            from aitp_gym.agents.training import TensorBoardLogger

            self._tb = TensorBoardLogger(str(self.run_dir / "tb"))
        return self._tb

    def _resume_tensorboard(self, done: list[dict[str, Any]]) -> None:
        """Open ``tb/`` for a run that continues after ``done``: one event file again, holding the losses of the
        recorded rounds only (a killed round's are dropped, so curves do not zig-zag) and the per-round scalars
        re-logged from ``rounds.jsonl`` (a kill between recording a round and logging it loses nothing)."""
        from aitp_gym.agents.training import TensorBoardLogger

        start, end = len(done), self._loss_offset(len(done))

        def keep(tag: str, step: int) -> bool:
            if tag.startswith("losses/"):
                return start > 0 and step < end
            if tag.split("/")[0] in ROUND_SCALARS:
                return False
            return start > 0  # the config text and hparams, written when round 0 starts

        self._tb = TensorBoardLogger(str(self.run_dir / "tb"), keep=keep)
        for row in done:
            self._scalars(row)

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        """Run (or continue) the rounds; the rows of ``rounds.jsonl``."""
        c = self.config
        torch_threads(c.torch_threads)
        quiet_transformers()
        for warning in config_warnings(c):
            self.log(f"warning: {warning}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        done = self.finished_rounds()
        start = len(done)
        self._start_folder(start)
        pool, eval_ids = self._theorems()
        models = Models(c, done, self.round_dir(start - 1) if start else None)
        if (self.run_dir / "tb").is_dir():
            self._resume_tensorboard(done)
        if start == 0:
            self._logger().text("config", "```\n" + config_to_yaml(c) + "\n```")
            self._logger().hparams(_flat(dataclasses.asdict(c)), ["eval/proof_rate", "train/proof_rate"])
        if start > c.rounds:
            self.log(f"all {c.rounds} rounds of {self.run_dir} are done; nothing to resume (raise rounds with a new "
                     "run to go further)")
        rows = list(done)
        for r in range(start, c.rounds + 1):
            row = self._round(r, models, pool, eval_ids)
            self._record(row)
            rows.append(row)
            self._scalars(row)
            self._plot()
            self.log(_line(row))
        if self._tb is not None:
            self._tb.flush()
        return rows

    def _round(self, r: int, models: Models, pool: list[Any], eval_ids: list[str]) -> dict[str, Any]:
        """Round ``r``: (pre-training, for round 0) proving a train slice, learning, saving, evaluating. Built in
        ``rounds/<r>.partial/`` and renamed when complete."""
        c = self.config
        t0 = time.perf_counter()
        rdir = self.run_dir / "rounds" / f"{r:03d}.partial"
        rdir.mkdir(parents=True)
        row: dict[str, Any] = {"round": r}
        if r == 0 and c.model.pretrain_steps and models.policy is not None:
            row["pretrain_loss"] = self._pretrain(models.policy)
            models.mark_trained(["policy"])
        if r > 0:
            rng = random.Random(c.seed * 1000 + r)
            ids = [t.id for t in rng.sample(pool, min(c.prove.train_theorems, len(pool)))]
            if c.workers > 1 or c.ray_address is not None:  # other processes load the models from disk
                models.save(rdir / "start")
            row["train"] = self._summarise(self._prove("train", ids, rdir / "train", models.in_use(),
                                                       f"round {r}: proving"))
            row["losses"] = self._train(r, rdir, models)
            models.mark_trained(sorted({LEARNERS[n].trains for n in row["losses"]}))
        models.save(rdir)
        shutil.rmtree(rdir / "start", ignore_errors=True)
        in_use = models.in_use()
        row["models"] = {role: "model" if m.model is not None else "model-free" for role, m in in_use.items()}
        row["eval"] = self._summarise(self._prove("valid", eval_ids, rdir / "eval", in_use,
                                                  f"round {r}: evaluating"))
        model_free = {role: Model(role, None, MODEL_FREE[role], False) for role in ROLES}
        if r == 0 and c.prove.model_free_reference:
            row["model_free"] = self._summarise(self._prove("valid", eval_ids, rdir / "model-free", model_free,
                                                            "round 0: model-free"))
        if r == 0 and c.prove.brute_force_reference:
            row["brute_force"] = self._summarise(self._prove("valid", eval_ids, rdir / "brute-force", model_free,
                                                             "round 0: brute force", tactics_per_expansion=None))
        row["trained"] = models.trained()
        row["seconds"] = round(time.perf_counter() - t0, 1)
        os.replace(rdir, self.round_dir(r))  # the round is complete on disk before it is recorded
        models.moved(rdir, self.round_dir(r))
        return row

    def _start_folder(self, start: int) -> None:
        """Delete what a killed round left, and write (or check) the run's config."""
        for folder in sorted((self.run_dir / "rounds").glob("*")):
            # a round killed before it was recorded (even after its folder was renamed) is redone from scratch
            if folder.name.endswith(".partial") or (folder.name.isdigit() and int(folder.name) >= start):
                shutil.rmtree(folder)
        resolved = config_to_yaml(self.config)
        saved = self.run_dir / "config.yaml"
        if saved.exists() and saved.read_text() != resolved:
            raise ValueError(f"{self.run_dir} holds a run with another configuration; resume it with its own "
                             f"config ({saved}) or choose a new run folder")
        atomic_write_text(saved, resolved)

    def _theorems(self) -> tuple[list[Any], list[str]]:
        """The train pool (sampled each round) and the fixed held-out ids (a seeded sample of the valid split, or
        its first ones with ``prove.eval_selection: first``), written to ``eval_theorems.txt`` for ``aitp prove
        --theorems``. Starts the prover (``prepare``) once."""
        import gymnasium as gym

        import aitp_gym  # noqa: F401  (registers the environments)

        c = self.config
        env = gym.make(c.env, split="train")
        try:
            backend = env.unwrapped.backend
            if isinstance(backend, SupportsPrepare):
                backend.prepare(self.log)
            train = train_pool(backend, c.prove.train_difficulty_max, c.prove.train_pool_size, c.seed)
            valid = list(backend.theorems("valid"))
        finally:
            env.close()
        if c.prove.eval_selection == "sample":
            random.Random(c.seed).shuffle(valid)
        eval_ids = sorted(t.id for t in valid[: c.prove.eval_theorems])
        atomic_write_text(self.run_dir / "eval_theorems.txt", "".join(
            [f"# the {c.env} valid theorems every round evaluates; aitp prove --theorems FILE proves them again\n",
             *(f"{i}\n" for i in eval_ids)]))
        return train, eval_ids

    def _plot(self) -> None:
        """``curve.png`` in the run folder, from the TensorBoard scalars (skipped without matplotlib)."""
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return
        from aitp_gym.plot import plot_curve

        plot_curve(self.run_dir, title=f"{self.config.env}: {self.run_dir.name}")

    def _pretrain(self, policy: Any) -> float:
        from aitp_gym.agents.buffers import ground_truth_pairs

        c = self.config
        pairs = ground_truth_pairs(c.env, "train")
        # the policy's own learner of (goal, tactic) pairs: seq2seq for a ranker or a seq2seq model
        kind = kind_of(policy, "policy")
        learner = next(LEARNERS[n] for n in kind.learners if LEARNERS[n].buffer == "seq2seq")
        settings = {**c.learn.settings_for(learner.name, c.seed, kind.learner_defaults),
                    "steps": c.model.pretrain_steps}
        res = learner.train(policy, pairs, learner.Settings(**settings), self._logger(), 0, self.progress)
        return res.final_loss

    def _scalars(self, row: dict[str, Any]) -> None:
        tb, r = self._logger(), row["round"]
        for split in ("train", "eval"):
            if split in row:
                s = row[split]
                tb.scalar(f"{split}/proof_rate", s["proof_rate"], r)
                if "outcome_cache" in s:  # prove.outcome_cache: how much of the prover's work the file saved
                    tb.scalar(f"{split}/cache_hit_rate", s["outcome_cache"]["hit_rate"], r)
                    tb.scalar(f"{split}/cache_saved_s", s["outcome_cache"]["saved_s"], r)
        first = row if r == 0 else next(iter(self.finished_rounds()), {})
        for key in ("brute_force", "model_free"):
            reference = first.get(key)
            if reference is not None:  # a flat line beside the curve, at every round
                tb.scalar(f"eval/{key}_proof_rate", reference["proof_rate"], r)
        s = row["eval"]
        if s["mean_expansions_to_proof"] is not None:
            tb.scalar("search/expansions_per_proof", s["mean_expansions_to_proof"], r)
        for key in ("prover_s", "model_s", "bookkeeping_s"):
            tb.scalar(f"time/{key}", s[f"{key}_per_expansion"], r)
        # the degeneration watch, on the held-out proofs: a collapsing policy proposes tactics the prover rejects,
        # and fewer distinct ones
        tb.scalar("search/rejected_share", s.get("rejected_share", 0.0), r)
        if s.get("proposal_entropy") is not None:
            tb.scalar("search/proposal_entropy", s["proposal_entropy"], r)
        tb.flush()


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as TensorBoard hparams: ``prove.max_expansions`` → 32; lists and dicts as text."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and prefix == "" and key in ("prove", "model", "learn"):
            out.update(_flat(value, f"{key}."))
        elif value is None or isinstance(value, (list, dict)):
            out[prefix + key] = str(value)
        else:
            out[prefix + key] = value
    return out


ROUND_SCALARS = ("train", "eval", "search", "time")
"""Top-level TensorBoard sections whose scalars are logged once per round (step = round)."""



def _line(row: dict[str, Any]) -> str:
    parts = [f"round {row['round']}"]
    if "train" in row:
        parts.append(f"train proved {row['train']['proved']}/{row['train']['attempted']}")
    parts.append(f"eval proved {row['eval']['proved']}/{row['eval']['attempted']} ({row['eval']['proof_rate']:.0%})")
    if "model_free" in row:
        mf = row["model_free"]
        parts.append(f"model-free proved {mf['proved']}/{mf['attempted']} ({mf['proof_rate']:.0%})")
    if "brute_force" in row:
        bf = row["brute_force"]
        parts.append(f"brute force (every tactic) proved {bf['proved']}/{bf['attempted']} ({bf['proof_rate']:.0%})")
    caches = {split: row[split]["outcome_cache"] for split in ("train", "eval")
              if "outcome_cache" in row.get(split, {})}
    if caches:
        saved = sum(c["saved_s"] for c in caches.values())
        parts.append("outcome cache hits " + " ".join(f"{split} {c['hit_rate']:.0%}" for split, c in caches.items())
                     + f" ({saved:.0f} s of prover time saved)")
    if row.get("losses"):
        parts.append("losses " + " ".join(f"{k} {v:.3f}" for k, v in row["losses"].items()))
    parts.append(f"{row['seconds']:.0f} s")
    return " | ".join(parts)
