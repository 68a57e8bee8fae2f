"""Models and learners. The interfaces planners use are defined in the core (``aitp_gym.policy``)
so that planners never import torch; models that implement them live here."""

from aitp_gym.policy import ConstantCritic, Critic, TacticPolicy, UniformPolicy

__all__ = ["ConstantCritic", "Critic", "TacticPolicy", "UniformPolicy"]
