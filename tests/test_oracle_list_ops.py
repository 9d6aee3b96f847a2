"""ParallelBench §4.2 closed forms reproduced by the real engine on the list-operation oracle.

Each stochastic check decodes >= 2,000 distinct random lists in one batch and requires the measured
accuracy within 3 binomial standard errors of the paper's value; predictions of exactly 0 or 1 must
be met exactly (the oracle is exact, only its tie-breaking is random).
"""

from __future__ import annotations

import math

import pytest
import torch

from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.decoding.loop import denoise
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.decoding.schedule import make_schedule
from lm_eval_mdlm.oracle import OracleError, load_oracle, parse_spec
from research.oracle_experiments import (
    accuracy,
    decode,
    random_requests,
    replace_random_greedy_topk,
    replace_random_one_step,
    replace_random_threshold,
    shuffle_topk,
)

SAMPLES = 2000


def oracle(op: str, **options):
    query = "&".join(f"{k}={v}" for k, v in {"layout": "bare", "items": 20, **options}.items())
    return load_oracle(f"oracle:{op}?{query}")


def assert_matches(measured: float, predicted: float, count: int = SAMPLES) -> None:
    if predicted in (0.0, 1.0):
        assert measured == predicted
    else:
        assert abs(measured - predicted) <= 3 * math.sqrt(predicted * (1 - predicted) / count), (measured, predicted)


def test_closed_forms_are_the_papers_special_cases() -> None:
    # Eq. 5's limits: k = n -> n!/n^n, k = 1 -> 1; Table 1's 1/e limit of one-step Replace Random.
    assert shuffle_topk(6, 6) == pytest.approx(math.factorial(6) / 6 ** 6)
    assert shuffle_topk(7, 1) == 1.0
    assert shuffle_topk(4, 2) == pytest.approx((4 * 3 / 16) * (2 / 4))
    assert replace_random_one_step(10_000) == pytest.approx(1 / math.e, rel=1e-3)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
@pytest.mark.parametrize("score", ["confidence", "random"])
@pytest.mark.parametrize(("n", "k"), [(4, 2), (6, 2), (6, 3), (5, 5), (7, 3)])
def test_shuffle_topk_follows_eq5(n: int, k: int, score: str, temperature: float) -> None:
    cfg = DecodeConfig(k=k, score=score, temperature=temperature)
    measured, _ = accuracy(oracle("shuffle"), cfg, n, SAMPLES, seed=100 * n + k)
    assert_matches(measured, shuffle_topk(n, k))


@pytest.mark.parametrize("score", ["confidence", "random"])
@pytest.mark.parametrize(("n", "k"), [(4, 2), (6, 2), (6, 3), (8, 4), (5, 5)])
def test_replace_random_greedy_topk(n: int, k: int, score: str) -> None:
    measured, _ = accuracy(oracle("replace_random"), DecodeConfig(k=k, score=score), n, SAMPLES, seed=n + k)
    assert_matches(measured, replace_random_greedy_topk(n, k))


@pytest.mark.parametrize("n", [3, 5, 8])
def test_replace_random_one_step_sampling(n: int) -> None:
    measured, _ = accuracy(oracle("replace_random"), DecodeConfig(k=n, temperature=1.0), n, SAMPLES, seed=n)
    assert_matches(measured, replace_random_one_step(n))


@pytest.mark.parametrize("temperature", [0.0, 1.0])
@pytest.mark.parametrize(("n", "gamma"), [(4, 0.55), (6, 0.9)])
def test_shuffle_threshold_above_half_decodes_one_by_one(n: int, gamma: float, temperature: float) -> None:
    cfg = DecodeConfig(strategy="threshold", threshold=gamma, temperature=temperature)
    measured, _ = accuracy(oracle("shuffle"), cfg, n, SAMPLES, seed=n)
    assert measured == 1.0


@pytest.mark.parametrize(("n", "gamma"), [(5, 0.85), (5, 0.75), (8, 0.9), (8, 0.85), (3, 0.7), (3, 0.6)])
def test_replace_random_threshold_switches_at_n_minus_1_over_n(n: int, gamma: float) -> None:
    measured, _ = accuracy(oracle("replace_random"), DecodeConfig(strategy="threshold", threshold=gamma), n,
                           SAMPLES, seed=n)
    assert measured == replace_random_threshold(n, gamma)


STRATEGIES = [
    DecodeConfig(), DecodeConfig(k=3), DecodeConfig(k=7), DecodeConfig(k=2, temperature=1.0),
    DecodeConfig(k=7, temperature=1.0), DecodeConfig(k=2, score="margin"), DecodeConfig(k=2, score="entropy"),
    DecodeConfig(k=3, score="random", temperature=1.0), DecodeConfig(k=2, score="left_to_right"),
    DecodeConfig(steps=6, block_length=3), DecodeConfig(strategy="threshold", threshold=0.5),
    DecodeConfig(strategy="factor", factor=1.0), DecodeConfig(strategy="threshold", threshold=0.9, temperature=1.0),
]


@pytest.mark.parametrize("layout", ["bare", "list"])
@pytest.mark.parametrize("op", ["copy", "replace_index"])
def test_zero_total_correlation_ops_are_solved_by_every_strategy(op: str, layout: str) -> None:
    model = oracle(op, layout=layout)
    for cfg in STRATEGIES:
        assert accuracy(model, cfg, 7, SAMPLES // 4, seed=3)[0] == 1.0, cfg


def test_outputs_do_not_depend_on_the_batch() -> None:
    model = oracle("shuffle")
    requests = random_requests(5, 12, 20, seed=0)
    for cfg in (DecodeConfig(k=2), DecodeConfig(k=2, temperature=1.0)):
        together = decode(model, requests, cfg)
        assert [decode(model, [r], cfg)[0] for r in requests[:4]] == together[:4]


def test_left_padding_does_not_change_a_row() -> None:
    # Rows of different prompt lengths share a canvas: the shorter ones are left-padded.
    model = oracle("shuffle", layout="list")
    prompts = [model.prompt_ids(list(items)) for items in ("ABCD", "EFGHIJ", "KLMNO")]

    def run(batch: list[list[int]], cfg: DecodeConfig) -> list[list[int]]:
        out = denoise(model, batch, cfg, make_schedule(cfg, 14), mask_id=model.mask_id, pad_id=model.pad_id,
                      eos_ids=model.eos_ids, keys=row_keys(batch, cfg.seed), device=torch.device("cpu"))
        return out.answer.tolist()

    for cfg in (DecodeConfig(k=2), DecodeConfig(k=3, temperature=1.0)):
        assert [run([p], cfg)[0] for p in prompts] == run(prompts, cfg)


def test_tie_noise_breaks_greedy_ties_and_can_be_turned_off() -> None:
    requests = random_requests(4, 200, 20, seed=1)
    cfg = DecodeConfig(k=4)
    noisy = decode(oracle("shuffle"), requests, cfg)
    flat = decode(oracle("shuffle", noise=0), requests, cfg)
    # Without noise argmax takes the lowest token id among the tied items: all positions agree.
    assert all(len(set(a)) == 1 for a in flat)
    assert sum(len(set(a)) == 4 for a in noisy) > 0


def test_exact_conditionals_at_the_logit_level() -> None:
    model = oracle("replace_random", noise=0)
    prompt = model.prompt_ids(["A", "B", "C", "D"], word="F")
    ids = torch.tensor([prompt + [model.mask_id] * 4])
    probs = torch.softmax(model(ids, torch.ones_like(ids, dtype=torch.bool))[0, -4:], -1)
    f, a = model.vocab.ids["F"], model.vocab.ids["A"]
    assert probs[0, f].item() == pytest.approx(1 / 4) and probs[0, a].item() == pytest.approx(3 / 4)
    ids[0, -4:-1] = torch.tensor([model.vocab.ids[t] for t in "ABC"])  # kept 3 -> the last must be F
    probs = torch.softmax(model(ids, torch.ones_like(ids, dtype=torch.bool))[0, -1], -1)
    assert probs[f].item() == pytest.approx(1.0)


def test_spec_parsing_and_errors() -> None:
    assert parse_spec("oracle:shuffle?items=30&noise=0&layout=bare") == (
        "shuffle", {"items": 30, "noise": 0.0, "layout": "bare"})
    assert load_oracle("oracle:copy", items=8).vocab.num_items == 8
    with pytest.raises(OracleError, match="unknown; valid ops"):
        load_oracle("oracle:reverse")
    with pytest.raises(OracleError, match="unknown oracle option colour"):
        load_oracle("oracle:copy?colour=red")
    with pytest.raises(OracleError, match="must be an integer"):
        load_oracle("oracle:copy?items=many")
    with pytest.raises(ValueError, match="items=1 is invalid"):
        load_oracle("oracle:copy?items=1")


def test_prompt_errors_name_the_problem() -> None:
    model = oracle("replace_index", layout="list")
    tok = model.tokenizer

    def run(text: str) -> None:
        ids = torch.tensor([tok(text, add_special_tokens=False).input_ids + [model.mask_id] * 9])
        model(ids, torch.ones_like(ids, dtype=torch.bool))

    with pytest.raises(OracleError, match="no bracketed list"):
        run("Replace the item at position 1 with F . <|assistant|>")
    with pytest.raises(OracleError, match="no valid 'position <i>'"):
        run("Replace the item at position 9 with F in [A, B, C] <|assistant|>")
    with pytest.raises(OracleError, match="cannot hold"):
        run("Replace the item at position 1 with F in [A, B, C, D, E] <|assistant|>")
    with pytest.raises(OracleError, match="already in the list"):
        random_model = oracle("replace_random")
        ids = torch.tensor([random_model.prompt_ids(["A", "B"], word="A") + [model.mask_id] * 3])
        random_model(ids, torch.ones_like(ids, dtype=torch.bool))
