"""``python -m aitp_gym.cli``: the ``aitp`` command."""

from aitp_gym.cli import main

raise SystemExit(main())
