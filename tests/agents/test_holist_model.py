"""The HOList tactic-and-premise model (``agents/holist_model.py``, ``agents/learners/premise.py``): without a prover,
goals come from the shipped theorem database and every proposed tactic is checked with the grammar's parser; the last
test runs the model inside real proof searches on HOL Light (the session's warm server)."""

import math

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import gymnasium as gym  # noqa: E402
import torch  # noqa: E402

import aitp_gym  # noqa: E402, F401
from aitp_gym.agents.buffers import TacticPair  # noqa: E402
from aitp_gym.agents.holist_model import (  # noqa: E402
    HOListPolicy,
    database_goal,
    shipped_database,
    time_per_expansion,
)
from aitp_gym.agents.learners.premise import (  # noqa: E402
    HOListPair,
    PremiseSettings,
    holist_tactic_pairs,
    premise_examples,
    train_premise,
)
from aitp_gym.agents.training import MemoryLogger  # noqa: E402
from aitp_gym.envs.holist.backend import HOLGoal  # noqa: E402
from aitp_gym.envs.holist.database import TheoremDatabase  # noqa: E402
from aitp_gym.envs.holist.grammar import TACTICS, THM, THMS, parse_tactic  # noqa: E402
from aitp_gym.envs.holist.prover import hol_light_available  # noqa: E402
from aitp_gym.policy import TacticPolicy  # noqa: E402
from aitp_gym.search import BestFS  # noqa: E402
from aitp_gym.trace import TraceRecord  # noqa: E402
from aitp_gym.tree import Goal  # noqa: E402

# First tactics of real HOL Light proofs (/usr/share/hol-light/arith.ml): theorem → the tactic its proof starts with.
SOURCE_PROOFS = [
    ("ADD_AC", "MESON_TAC [ADD_ASSOC; ADD_SYM]"),
    ("EQ_ADD_RCANCEL", "ONCE_REWRITE_TAC [ADD_SYM]"),
    ("ADD1", "REWRITE_TAC [BIT1_THM; ADD_CLAUSES]"),
    ("RIGHT_ADD_DISTRIB", "ONCE_REWRITE_TAC [MULT_SYM]"),
    ("MULT_AC", "MESON_TAC [MULT_ASSOC; MULT_SYM]"),
    ("EXP_EXP", "REWRITE_TAC [EXP_MULT]"),
    ("LT_SUC", "REWRITE_TAC [LT_SUC_LE; LE_SUC_LT]"),
    ("LT_IMP_NE", "MESON_TAC [LT_REFL]"),
    ("LT_LE", "REWRITE_TAC [LE_LT]"),
    ("LE_ADDR", "ONCE_REWRITE_TAC [ADD_SYM]"),
    ("LTE_ADD2", "ONCE_REWRITE_TAC [ADD_SYM; CONJ_SYM]"),
    ("WLOG_LE", "MESON_TAC [LE_CASES]"),
    ("SUB_0", "REWRITE_TAC [SUB]"),
    ("SUB_ADD", "REWRITE_TAC [LE_EXISTS]"),
    ("DIV_ZERO", "MESON_TAC [DIVISION_0]"),
    ("MOD_REFL", "SIMP_TAC [MOD_EQ_0]"),
    ("EVEN_ODD_DECOMPOSITION", "MATCH_MP_TAC num_WF"),
    ("ODD_DOUBLE", "REWRITE_TAC [ODD]"),
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models on a shared machine: one intra-op thread is much faster than two that wait for each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def db():
    return shipped_database()


@pytest.fixture(scope="module")
def goals(db):
    """20 root goals spread over the database (the first has no premises at all), plus a goal with assumptions
    and a plain-text user statement (premises: the whole database)."""
    n = len(db.entries)
    out = [database_goal(db, i) for i in [0, 1, *range(150, n, (n - 150) // 18)][:20]]
    add_sym = db.by_name["ADD_SYM"]
    hyps = ("m = 0", "n = SUC m")
    out.append(Goal("m = 0\nn = SUC m\n⊢ n + m = SUC 0", "k-hyps",
                    HOLGoal("(g)", add_sym["index"] + 5, hyps, "n + m = SUC 0")))
    out.append(Goal("⊢ !n. n + 0 = n"))
    return out


@pytest.fixture(scope="module")
def policy(db):
    return HOListPolicy.tiny(seed=0, database=db)


def _bound(db, goal):
    return goal.data.theorem_index if isinstance(goal.data, HOLGoal) else len(db.entries)


def check_candidates(db, goals, proposals, k):
    assert len(proposals) == len(goals)
    for goal, cands in zip(goals, proposals, strict=True):
        assert 0 < len(cands) <= k
        tactics = [t for t, _ in cands]
        assert len(set(tactics)) == len(tactics)
        lps = [lp for _, lp in cands]
        assert all(math.isfinite(lp) and lp <= 1e-6 for lp in lps)
        assert lps == sorted(lps, reverse=True)
        for tactic, _ in cands:
            call = parse_tactic(tactic)  # raises TacticSyntaxError if the grammar refuses it
            assert call.name in TACTICS
            for name in call.theorem_names():
                index = db.index_of(name)
                assert index is not None and index < _bound(db, goal), (goal.text, tactic)


def test_policy_protocol_and_grammar(db, goals, policy):
    assert isinstance(policy, TacticPolicy)
    for k in (8, 32):
        check_candidates(db, goals, policy.propose(goals, k), k)
    wide = policy.propose(goals, 200)
    first = {t for t, _ in wide[0]}
    assert first and all(not parse_tactic(t).theorem_names() for t in first)  # NUMERAL: nothing before it
    assert any(t.endswith("[]") for t in first)
    names = {parse_tactic(t).name for cands in wide for t, _ in cands}
    assert {"MP_TAC", "REWRITE_TAC", "ARITH_TAC", "RAW_POP_TAC", "LABEL_TAC"} <= names
    assert "EXISTS_TAC" not in names and "CONV_TAC" not in names  # term / conversion arguments: skipped
    pops = [t for t, _ in wide[20] if t.startswith("RAW_POP_TAC")]
    assert sorted(pops) == ["RAW_POP_TAC 0", "RAW_POP_TAC 1"]


def test_batched_equals_one_by_one(goals, policy):
    batched = policy.propose(goals[:8], 8)
    for goal, cands in zip(goals[:8], batched, strict=True):
        single = policy.propose([goal], 8)[0]
        assert [t for t, _ in single] == [t for t, _ in cands]
        assert [lp for _, lp in single] == pytest.approx([lp for _, lp in cands], abs=1e-4)


def test_premises_only_before_goal(db, goals, monkeypatch):
    """Even a ranker that prefers the latest theorems proposes only those before the goal's theorem."""
    policy = HOListPolicy.tiny(seed=1, database=db)
    n = len(db.entries)
    monkeypatch.setattr(policy.net, "premise_scores",
                        lambda g, p: torch.arange(n, dtype=torch.float32).expand(len(g), n).clone())
    goal = database_goal(db, "ADD_SYM")
    cands = policy.propose([goal], 100)[0]
    used = [name for t, _ in cands for name in parse_tactic(t).theorem_names()]
    index = db.index_of("ADD_SYM")
    assert used and max(db.index_of(u) for u in used) == index - 1
    assert all(db.index_of(u) < index for u in used)
    check_candidates(db, goals, policy.propose(goals, 16), 16)
    mask = policy.allowed_mask(goals)
    for row, goal in zip(mask, goals, strict=True):
        assert not row[_bound(db, goal):].any()


def test_premise_cache_follows_the_weights(db, goals):
    policy = HOListPolicy.tiny(seed=2, database=db)
    emb = policy.premise_embeddings()
    assert emb.shape == (len(db.entries), policy.settings.dim)
    assert policy.premise_embeddings() is emb
    with torch.no_grad():
        next(policy.net.premise_encoder.parameters()).add_(0.5)
    changed = policy.premise_embeddings()
    assert changed is not emb and not torch.allclose(changed, emb)
    policy.net.load_state_dict(HOListPolicy.tiny(seed=2, database=db).net.state_dict())
    assert torch.allclose(policy.premise_embeddings(), emb)


def _source_pairs(db):
    return [TacticPair(database_goal(db, name).text, tactic) for name, tactic in SOURCE_PROOFS]


def test_examples_resolve_the_allowed_premises(db, policy):
    pairs = [*_source_pairs(db),
             TacticPair("⊢ m + n = n + m", "REWRITE_TAC [ADD_SYM]"),  # a subgoal: up to its latest premise
             HOListPair("x = y\n⊢ y = x", "ASM_MESON_TAC [EQ_SYM]", theorem_index=300),
             HOListPair(database_goal(db, "ADD_AC"), "ARITH_TAC"),
             TacticPair("⊢ T", "EXISTS_TAC `1`"),
             TacticPair("⊢ T", "FOO_TAC"),  # unparsable: skipped
             TacticPair(database_goal(db, "ADD_SYM").text, "REWRITE_TAC [ADD_AC]")]  # ADD_AC comes later: skipped
    examples, skipped = premise_examples(policy, pairs)
    assert skipped == 2 and len(examples) == len(pairs) - 2
    by_goal = {(e.goal if isinstance(e.goal, str) else e.goal.text): e for e in examples}
    assert by_goal[database_goal(db, "ADD_AC").text].bound == db.index_of("ADD_AC")
    assert by_goal["⊢ m + n = n + m"].bound == db.index_of("ADD_SYM") + 1
    assert by_goal["x = y\n⊢ y = x"].bound == 300
    assert all(p < e.bound for e in examples for p in e.premises)


def test_loss_falls_on_source_proofs(db):
    policy = HOListPolicy.tiny(seed=0, database=db, buckets=1 << 12)  # AdamW's dense update of the bags dominates
    before = policy.premise_embeddings()
    logger = MemoryLogger()
    result = train_premise(policy, _source_pairs(db), PremiseSettings(steps=60, batch_size=8, lr=3e-3,
                                                                       log_every=10), logger, progress=False)
    for metric in ("loss", "tactic_ce", "tactic_acc", "premise_nce", "premise_acc"):
        assert logger.values[f"losses/premise/{metric}"]
    first = logger.values["losses/premise/loss"][0][1]
    last = logger.values["losses/premise/loss"][-1][1]
    assert last < 0.5 * first, (first, last)
    assert logger.values["losses/premise/premise_nce"][-1][1] < 0.5 * logger.values["losses/premise/premise_nce"][0][1]
    assert result.final_loss < result.first_loss
    assert not torch.allclose(policy.premise_embeddings(), before)  # the cache followed the training
    # the trained model reproduces the source proofs' tactic and ranks their premises among its top few
    hits = 0
    for name, tactic in SOURCE_PROOFS:
        cands = policy.propose([database_goal(db, name)], 8)[0]
        want = parse_tactic(tactic)
        hits += any(parse_tactic(t).name == want.name and set(want.theorem_names()) & set(parse_tactic(t)
                                                                                          .theorem_names())
                    for t, _ in cands)
    assert hits >= len(SOURCE_PROOFS) // 2, hits


def test_save_and_load_give_identical_proposals(db, goals, tmp_path):
    policy = HOListPolicy.tiny(seed=3, database=db)
    train_premise(policy, _source_pairs(db), PremiseSettings(steps=3, batch_size=4), progress=False)
    expected = policy.propose(goals, 8)
    policy.save_pretrained(tmp_path / "model")
    loaded = HOListPolicy.from_pretrained(tmp_path / "model", database=db)
    assert loaded.settings == policy.settings
    assert loaded.propose(goals, 8) == expected
    with pytest.raises(FileNotFoundError):
        HOListPolicy.from_pretrained(tmp_path)


def test_pairs_from_traces_keep_the_theorem_index(db):
    record = TraceRecord(
        header={"theorem_id": "ADD_AC", "theorem_data": {"index": db.index_of("ADD_AC")}},
        nodes=[{"id": 0, "text": database_goal(db, "ADD_AC").text, "status": "proved"}],
        edges=[{"id": 0, "parent": 0, "tactic": "MESON_TAC [ADD_ASSOC; ADD_SYM]", "outcome": "proved",
                "children": [], "logprob": -1.0}],
        result={"proved": True})
    assert holist_tactic_pairs([record]) == [HOListPair(database_goal(db, "ADD_AC").text,
                                                        "MESON_TAC [ADD_ASSOC; ADD_SYM]", db.index_of("ADD_AC"))]


def test_t5_encoder_on_a_database_prefix(db):
    """The byte-level T5 towers work the same way (on 120 theorems: embedding all 2,952 takes tens of seconds)."""
    small = TheoremDatabase(db.version, db.entries[:120])
    policy = HOListPolicy.tiny(seed=0, database=small, encoder="t5", dim=32,
                               t5_config={"num_layers": 1, "d_ff": 64, "d_kv": 8, "num_heads": 4})
    goals = [database_goal(small, i) for i in (0, 10, 60, 119)]
    check_candidates(small, goals, policy.propose(goals, 8), 8)
    logger = MemoryLogger()
    pairs = [TacticPair(database_goal(small, i).text, f"REWRITE_TAC [{small.entries[i - 1]['name']}]")
             for i in range(20, 120, 10)]
    train_premise(policy, pairs, PremiseSettings(steps=2, batch_size=4), logger, progress=False)
    assert logger.values["losses/premise/premise_nce"]
    check_candidates(small, goals, policy.propose(goals, 8), 8)


def test_model_time_per_expansion(db, goals, policy, capsys):
    one = time_per_expansion(policy, goals[3:4], k=8)
    eight = time_per_expansion(policy, goals[3:11], k=8)
    with capsys.disabled():
        print(f"\nHOList premise model (bag encoder, 1 thread): propose k=8 takes {1000 * one:.1f} ms for 1 goal, "
              f"{1000 * eight:.1f} ms for 8 goals")
    assert one < 2.0 and eight < 5.0


# ---------------------------------------------------------------------------------------------- on HOL Light
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


def test_the_model_is_a_trainable_policy_that_dpo_trains(db, goals):
    """``sequence_logprobs`` gives exactly the log-probabilities ``propose`` gives (every argument kind), with
    gradients into the goal tower; what the model cannot propose gets a constant; DPO raises a human proof's first
    tactic over the model's own first choice at the same goal."""
    from aitp_gym.agents.buffers import PreferencePair
    from aitp_gym.agents.learners.dpo import DPOSettings, train_dpo
    from aitp_gym.agents.models import TrainablePolicy

    policy = HOListPolicy.tiny(seed=1, database=db)
    assert isinstance(policy, TrainablePolicy)
    proposals = policy.propose(goals, 64)
    pairs = [(g, t, lp) for g, cands in zip(goals, proposals, strict=True) for t, lp in cands]
    kinds = {TACTICS[parse_tactic(t).name] for _, t, _ in pairs}
    assert {(), (THMS,), (THM,)} <= kinds, kinds
    logp = policy.sequence_logprobs([g for g, _, _ in pairs], [t for _, t, _ in pairs])
    assert torch.allclose(logp.detach(), torch.tensor([lp for _, _, lp in pairs]), atol=1e-4)
    logp.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.net.goal_encoder.parameters())
    policy.net.zero_grad(set_to_none=True)
    bad = policy.sequence_logprobs(goals[:3], ["NOT A TACTIC", "REWRITE_TAC [GSYM ADD_SYM]", "REWRITE_TAC [NO_SUCH]"])
    assert bad.tolist() == [HOListPolicy.UNPROPOSABLE] * 3

    frozen = policy.frozen_copy()
    assert not any(p.requires_grad for p in frozen.parameters())
    prefs = []
    for name, tactic in SOURCE_PROOFS:
        goal = database_goal(db, name)
        first = policy.propose([goal], 1)[0][0][0]
        if first != tactic and policy.sequence_logprobs([goal], [tactic])[0] > HOListPolicy.UNPROPOSABLE:
            prefs.append(PreferencePair(goal, tactic, first, 0.0, 0.0))
    assert len(prefs) >= 8

    def margin(p):
        with torch.no_grad():
            lp = p.sequence_logprobs([x.goal for x in prefs] * 2,
                                     [x.chosen for x in prefs] + [x.rejected for x in prefs])
        return float((lp[: len(prefs)] - lp[len(prefs):]).mean())

    before = margin(policy)
    train_dpo(policy, prefs, DPOSettings(steps=15, batch_size=8, lr=3e-3), progress=False)
    assert margin(policy) > before + 0.5
    assert margin(frozen) == pytest.approx(before), "the reference stayed where it was"
