"""HOList-v0: HOL Light as a Gymnasium environment, in the HOList setting.

Nothing is imported here, so that importing a submodule starts no HOL Light: ``env`` (``HOListEnv``), ``backend``
(``HOListBackend``), ``grammar`` (the action grammar), ``tactics`` (fixed tactic vocabularies such as
``atomic_tactics()``), ``server`` (the machine-wide HOL Light server).
"""
