import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
# Tiny models on a shared 2-core machine: one torch thread per process. Two threads in several processes at
# once (pytest, its subprocesses, the prover) oversubscribe the cores and run many times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# HOList-v0's warm HOL Light is a machine-wide server (aitp_gym.envs.holist.server). Tests get their own,
# in a private directory set here, before anything can start one: it serves the whole session, including
# subprocesses that tests start (they inherit the variable), and is stopped when the session ends, so no
# prover outlives the run. A short path under /tmp keeps the socket path within the Unix limit.
_SERVER_DIR = tempfile.mkdtemp(prefix="aitp-hol-test-")
os.environ["AITP_HOL_SERVER_DIR"] = _SERVER_DIR


def pytest_unconfigure(config):
    """Stop the session's server, and any that tests started in subdirectories of its directory, even
    with clients still connected (session-scoped fixtures' envs, at exit)."""
    try:
        from aitp_gym.envs.holist.server import stop_server

        for directory in [_SERVER_DIR, *(str(p) for p in Path(_SERVER_DIR).iterdir() if p.is_dir())]:
            os.environ["AITP_HOL_SERVER_DIR"] = directory
            stop_server(force=True)
    finally:
        os.environ["AITP_HOL_SERVER_DIR"] = _SERVER_DIR
        shutil.rmtree(_SERVER_DIR, ignore_errors=True)
