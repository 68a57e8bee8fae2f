"""Learners: one module each, reading top to bottom (settings, batch → loss, update) on the shared loop in
``aitp_gym.agents.training``. Each needs the ``learn`` extra (torch, transformers)."""
