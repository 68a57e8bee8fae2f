"""Optional dependencies, installed with extras as Gymnasium does it (``pip install "aitp-gym[learn]"``).

The core (proof tree, traces, SR-v0, HOList-v0, planners) needs only gymnasium, numpy and tqdm. Code that needs
an optional package imports it through :func:`require`, inside the module or function that uses it, so a missing
extra fails with :class:`~aitp_gym.errors.DependencyNotInstalled` and the command that fixes it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from aitp_gym.errors import DependencyNotInstalled

#: import name -> the extra that installs it (see ``[options.extras_require]`` in setup.cfg).
EXTRAS: dict[str, str] = {
    "torch": "learn",
    "transformers": "learn",
    "tensorboard": "learn",
    "matplotlib": "learn",
    "yaml": "learn",
    "lean_dojo": "lean",
    "stable_baselines3": "sb3",
    "sb3_contrib": "sb3",
    "pettingzoo": "pettingzoo",
    "ray": "ray",
}


def require(module: str, purpose: str = "") -> ModuleType:
    """Import ``module`` (e.g. ``"torch"`` or ``"torch.utils.tensorboard"``), or raise a message naming its extra.

    ``purpose`` says what needed it, e.g. ``"the seq2seq tactic policy"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        extra = EXTRAS.get(top)
        if extra is None:
            raise
        who = f"{purpose} needs" if purpose else "this needs"
        raise DependencyNotInstalled(
            f"{who} the optional package {top!r}, which is not installed ({e}). "
            f'Install it with: pip install "aitp-gym[{extra}]"  (or "aitp-gym[all]")'
        ) from e
