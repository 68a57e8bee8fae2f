import os
import shutil
import tempfile

os.environ.setdefault("TQDM_DISABLE", "1")

# HOList-v0's warm HOL Light is a machine-wide server (aitp_gym.envs.holist.server). Tests get their own,
# in a private directory set here, before anything can start one: it serves the whole session, including
# subprocesses that tests start (they inherit the variable), and is stopped when the session ends, so no
# prover outlives the run. A short path under /tmp keeps the socket path within the Unix limit.
_SERVER_DIR = tempfile.mkdtemp(prefix="aitp-hol-test-")
os.environ["AITP_HOL_SERVER_DIR"] = _SERVER_DIR


def pytest_unconfigure(config):
    try:
        from aitp_gym.envs.holist.server import stop_server

        stop_server()
    finally:
        shutil.rmtree(_SERVER_DIR, ignore_errors=True)
