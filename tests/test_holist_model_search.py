"""The HOList tactic-and-premise model inside real proof searches on HOL Light (the session's warm server)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import gymnasium as gym  # noqa: E402

import aitp_gym  # noqa: E402, F401
from aitp_gym.agents.holist_model import HOListPolicy  # noqa: E402
from aitp_gym.envs.holist.prover import hol_light_available  # noqa: E402
from aitp_gym.search import BestFS  # noqa: E402

needs_hol = pytest.mark.skipif(not hol_light_available(),
                               reason="HOL Light is not installed: apt-get install -y hol-light libnum-ocaml-dev")


@needs_hol
@pytest.mark.expensive
def test_holist_model_searches_on_real_hol_light():
    env = gym.make("HOList-v0", split="valid")
    policy = HOListPolicy.tiny()
    applied = 0
    try:
        for index in range(3):
            env.reset(options={"theorem": index})
            result = BestFS(max_expansions=3, tactics_per_expansion=6).search(env, policy=policy)
            assert result.expansions > 0 and result.trace.header["policy"] == policy.name
            for edge in result.trace.edges:
                applied += 1
                # every proposal parses and names only earlier theorems: none is refused before HOL Light
                assert not edge["message"].startswith("rejected before reaching HOL Light"), edge
    finally:
        env.close()
    assert applied >= 3
