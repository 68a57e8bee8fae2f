"""The loop's models: loading them from a config keyword or a checkpoint folder, and :class:`Models`, which holds
the current policy and critic, where other processes load them from, whether each has been trained, and which
ones the round proves with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitp_gym.loop.config import LoopConfig
from aitp_gym.registration import env_traits

ROLES = ("policy", "critic")


def quiet_transformers() -> None:
    """The loop shows its own progress; transformers' per-file bars (loading and saving weights) would drown it."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_progress_bar()


def torch_threads(n: int) -> None:
    if n > 0:
        import torch

        torch.set_num_threads(n)


def resolve_device(device: str) -> str:
    """``model.device`` as torch names it: ``auto`` is ``cuda`` when torch sees a GPU, else ``cpu``; a CUDA device
    that torch cannot see is refused (``ValueError``) instead of failing in a worker mid-round."""
    if device == "cpu":
        return device
    if device != "auto" and device != "cuda" and not (device.startswith("cuda:") and device[5:].isdigit()):
        raise ValueError(f"model.device must be auto, cpu, cuda or cuda:N, not {device!r}")
    import torch

    if not torch.cuda.is_available():
        if device == "auto":
            return "cpu"
        raise ValueError(f"model.device: {device} asked for, but torch sees no CUDA device "
                         f"(torch {torch.__version__}, torch.cuda.is_available() is False); use auto or cpu")
    if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
        raise ValueError(f"model.device: {device} asked for, but torch sees {torch.cuda.device_count()} CUDA device(s)")
    return "cuda" if device == "auto" else device


def load_policy(spec: str, num_candidates: int | None = 8, goal_view: str = "full",
                featuriser: str = "text", device: str = "cpu") -> Any:
    """None for ``uniform`` (the model-free policy); a fresh model for a kind's name in ``POLICIES``
    (``ranker``, ``seq2seq``, ``holist``, reading ``goal_view``; a ranker with ``featuriser``); else a checkpoint
    folder, with its own goal view and, unless ``num_candidates`` is None, that many candidates per goal."""
    from aitp_gym.agents.models import make_model

    return make_model(spec, "policy", num_candidates=num_candidates, goal_view=goal_view, featuriser=featuriser,
                      device=device)


def load_critic(spec: str, goal_view: str = "full", device: str = "cpu", featuriser: str = "text") -> Any:
    """None for ``default`` (the env's model-free critic); a fresh model for a kind's name in ``CRITICS``
    (``value``, reading ``goal_view``; ``features``, with ``featuriser``); else a checkpoint folder, with its own
    goal view and featuriser."""
    from aitp_gym.agents.models import make_model

    return make_model(spec, "critic", goal_view=goal_view, featuriser=featuriser, device=device)


def resolve_goal_view(config: LoopConfig) -> str:
    """``model.goal_view``, or for ``auto`` the env's (``EnvTraits.goal_view``)."""
    return env_traits(config.env).goal_view if config.model.goal_view == "auto" else config.model.goal_view


def load(config: LoopConfig, role: str, spec: str) -> Any:
    """The ``role`` model of ``spec`` as ``config`` sets it up (goal view, candidates, the env's featuriser,
    device)."""
    view, device = resolve_goal_view(config), resolve_device(config.model.device)
    featuriser = env_traits(config.env).featuriser
    if role == "policy":
        return load_policy(spec, config.model.num_candidates, view, featuriser, device)
    return load_critic(spec, view, device, featuriser)


@dataclass
class Model:
    """One of the loop's two models."""

    role: str
    """``policy`` or ``critic``."""
    model: Any
    """The model in this process; None for the env's model-free one."""
    spec: str
    """Where another process loads it from: a config keyword or, once saved, a checkpoint folder."""
    trained: bool
    """Trained by pre-training or a round, or given as a checkpoint. Until then the loop proves with the model-free
    default when ``model.bootstrap`` is set: a fresh model proves nothing, so there would be nothing to learn."""


class Models:
    """The current policy and critic of a run."""

    def __init__(self, config: LoopConfig, done: list[dict[str, Any]], last_round: Path | None) -> None:
        """The last finished round's checkpoints (``last_round``), else the starting models of ``config``."""
        from aitp_gym.agents.models import MODEL_FREE, registry

        self.config = config
        self.roles: dict[str, Model] = {}
        for role in ROLES:
            start = getattr(config.model, role)
            saved = last_round / role if last_round is not None else None
            spec = str(saved) if saved is not None and saved.exists() else start
            # a checkpoint given in the config counts as trained; a fresh model or the model-free one does not
            trained = start not in (MODEL_FREE[role], *registry(role))
            if done:
                trained = done[-1].get("trained", {}).get(role, trained)
            self.roles[role] = Model(role, load(config, role, spec), spec, trained)

    @property
    def policy(self) -> Any:
        return self.roles["policy"].model

    @property
    def critic(self) -> Any:
        return self.roles["critic"].model

    def save(self, folder: Path) -> None:
        """Write every model to ``folder/<role>``; other processes load them from there from now on."""
        for m in self.roles.values():
            if m.model is not None:
                m.model.save_pretrained(folder / m.role)
                m.spec = str(folder / m.role)

    def moved(self, old: Path, new: Path) -> None:
        """The folder the models were saved in was renamed."""
        for m in self.roles.values():
            if m.model is not None and Path(m.spec).parent == old:
                m.spec = str(new / m.role)

    def mark_trained(self, roles: list[str]) -> None:
        for role in roles:
            self.roles[role].trained = True

    def in_use(self) -> dict[str, Model]:
        """The models to prove with: an untrained one is replaced by the model-free default when bootstrapping."""
        from aitp_gym.agents.models import MODEL_FREE

        out = {}
        for role, m in self.roles.items():
            if self.config.model.bootstrap and not m.trained:
                m = Model(role, None, MODEL_FREE[role], False)
            out[role] = m
        return out

    def trained(self) -> dict[str, bool]:
        return {role: m.trained for role, m in self.roles.items()}
