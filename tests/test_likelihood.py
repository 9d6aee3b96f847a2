"""Likelihoods of ``--model mdlm``: the identities any model satisfies, exactness on an oracle with a
consistent joint, batch invariance, costs, and a multiple-choice task end to end."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
import torch
from lm_eval.api.instance import Instance

from lm_eval_mdlm.config import ConfigError
from lm_eval_mdlm.likelihood import LikelihoodConfig, LikelihoodError, rolling_windows, score_requests
from lm_eval_mdlm.model import MDLM


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> MDLM:
    """Random BERT with moderately peaked predictions (conditionals differ across mask patterns)."""
    from tests.fixtures.tiny import build_tiny_model

    path = build_tiny_model(str(tmp_path_factory.mktemp("lik_bert")), arch="bert", init_std=0.3, seed=2,
                            max_positions=64)
    return MDLM(pretrained=path, batch_size=64)


def score(lm: MDLM, pairs, **config) -> list[tuple[float, bool]]:
    return score_requests(lm.denoiser, pairs, LikelihoodConfig(**{"batch_size": 256, **config}),
                          mask_id=lm.denoiser.mask_id, pad_id=lm.denoiser.pad_id)


def masked_logprobs(lm: MDLM, context: list[int], continuation: list[int]) -> dict[frozenset, torch.Tensor]:
    """Our own reference: log p(y_i | x, y outside S) at every position, for every masked set S."""
    n, table = len(continuation), {}
    for bits in range(1, 2 ** n):
        hidden = [i for i in range(n) if bits >> i & 1]
        ids = torch.tensor([context + [lm.denoiser.mask_id if i in hidden else t for i, t in enumerate(continuation)]])
        logits = lm.denoiser(ids, torch.ones_like(ids, dtype=torch.bool))[0, len(context):].double()
        table[frozenset(hidden)] = logits.log_softmax(-1)[torch.arange(n), torch.tensor(continuation)]
    return table


def chain_exact(table: dict[frozenset, torch.Tensor], order: tuple[int, ...]) -> float:
    return sum(float(table[frozenset(order[t:])][order[t]]) for t in range(len(order)))


@pytest.fixture(scope="module")
def case(lm: MDLM):
    context, continuation = lm.tok_encode("Question: what is 12 plus"), lm.tok_encode(" 30? Answer: 42")[:5]
    table = masked_logprobs(lm, context, continuation)
    orders = list(itertools.permutations(range(len(continuation))))
    any_order = sum(chain_exact(table, o) for o in orders) / len(orders)
    return context, continuation, table, any_order


def test_elbo_mean_is_the_any_order_chain_mean(lm: MDLM, case) -> None:
    context, continuation, table, any_order = case
    n = len(continuation)
    # The identity itself, by enumeration: E_k E_{|S|=k} (n/k) sum_{i in S} log p(y_i | y_{S^c}).
    elbo_exact = sum(n / len(s) * float(v[sorted(s)].sum()) * (1 / n) / math.comb(n, len(s)) for s, v in table.items())
    assert elbo_exact == pytest.approx(any_order, abs=1e-9)
    spread = {chain_exact(table, o) for o in itertools.permutations(range(n))}
    assert max(spread) - min(spread) > 1.0  # orders really differ on this model: the test has teeth
    for variant, seeds, mc in (("llada", 40, 16), ("dream", 80, 16)):
        values = torch.tensor([score(lm, [(context, continuation)], mc_num=mc, seed=s, elbo_variant=variant)[0][0]
                               for s in range(seeds)])
        assert abs(values.mean() - any_order) < 4 * values.std() / math.sqrt(seeds), variant
    chain = torch.tensor([score(lm, [(context, continuation)], mode="chain", order="random", seed=s)[0][0]
                          for s in range(120)])
    assert abs(chain.mean() - any_order) < 4 * chain.std() / math.sqrt(120)
    assert len(set(chain.tolist())) > 20  # random orders differ per seed


def test_chain_is_the_exact_product_along_its_order(lm: MDLM, case) -> None:
    context, continuation, table, _ = case
    n = len(continuation)
    assert score(lm, [(context, continuation)], mode="chain")[0][0] == pytest.approx(
        chain_exact(table, tuple(range(n))), abs=1e-9)
    assert score(lm, [(context, continuation)], mode="chain", order="r2l")[0][0] == pytest.approx(
        chain_exact(table, tuple(reversed(range(n)))), abs=1e-9)


@pytest.mark.parametrize("mode", ["elbo", "chain"])
def test_single_token_is_the_exact_softmax_in_one_forward(lm: MDLM, mode: str) -> None:
    context = lm.tok_encode("The quick brown")
    ids = torch.tensor([context + [lm.denoiser.mask_id]])
    logp = lm.denoiser(ids, torch.ones_like(ids, dtype=torch.bool))[0, -1].double().log_softmax(-1)
    logp[lm.denoiser.mask_id] = -math.inf
    best = int(logp.argmax())
    calls = []
    forward = lm.denoiser

    def counting(ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        calls.append(len(ids))
        return forward(ids, attention)

    out = score_requests(counting, [(context, [best]), (context, [(best + 1) % len(logp)])],
                         LikelihoodConfig(mode=mode, mc_num=64), mask_id=lm.denoiser.mask_id, pad_id=lm.denoiser.pad_id)
    assert calls == [2]  # one row per request, whatever mc_num
    assert out[0] == (pytest.approx(float(logp[best]), abs=1e-9), True)
    assert out[1][1] is False


def test_forwards_per_request(lm: MDLM) -> None:
    calls: list[int] = []

    def counting(ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        calls.append(len(ids))
        return lm.denoiser(ids, attention)

    pair = [(lm.tok_encode("a b"), lm.tok_encode(" c d e f g")[:5])]
    for config, rows in ((LikelihoodConfig(mode="chain", batch_size=2), 5), (LikelihoodConfig(mc_num=8), 9)):
        calls.clear()
        score_requests(counting, pair, config, mask_id=lm.denoiser.mask_id, pad_id=lm.denoiser.pad_id)
        assert sum(calls) == rows and max(calls) <= config.batch_size


def test_spread_shrinks_as_one_over_sqrt_mc_num(lm: MDLM, case) -> None:
    context, continuation, _, _ = case
    stds = {m: torch.tensor([score(lm, [(context, continuation)], mc_num=m, seed=s)[0][0] for s in range(60)]).std()
            for m in (4, 64)}
    assert 2.8 < float(stds[4] / stds[64]) < 5.7  # sqrt(64 / 4) = 4


REQUESTS = [("Question: what is 12 plus", " 30? Answer: 42"), ("a", " b"), ("The quick brown fox", " jumps over"),
            ("", "hello world"), ("x y z", " [1, 2, 3]"), ("a", " b")]


@pytest.mark.parametrize("args", [{"likelihood": "chain"}, {"likelihood": "chain", "order": "random", "seed": 3},
                                  {"mc_num": 6, "seed": 1}, {"mc_num": 5, "elbo_variant": "dream"}])
def test_batch_size_does_not_change_likelihoods(lm: MDLM, args: dict) -> None:
    reqs = [Instance("loglikelihood", {}, pair, 0) for pair in REQUESTS]
    runs = []
    for rows in (1, 4, 100):
        model = MDLM(pretrained=lm.pretrained, likelihood_batch_size=rows, **args)
        runs.append(model.loglikelihood(reqs, disable_tqdm=True))
    for run in runs[1:]:
        assert [g for _, g in run] == [g for _, g in runs[0]]
        assert [v for v, _ in run] == pytest.approx([v for v, _ in runs[0]], rel=1e-6)
    assert runs[0][1] == runs[0][5]  # identical requests get identical masks
    alone = MDLM(pretrained=lm.pretrained, **args).loglikelihood(reqs[2:3], disable_tqdm=True)[0][0]
    assert alone == pytest.approx(runs[0][2][0], rel=1e-6)  # nor do the other requests of the call


def test_empty_context_conditions_on_nothing(lm: MDLM) -> None:
    model = MDLM(pretrained=lm.pretrained, likelihood="chain")
    got = model.loglikelihood([Instance("loglikelihood", {}, ("", "hello world"), 0)], disable_tqdm=True)[0][0]
    assert got == pytest.approx(score(lm, [([], model.tok_encode("hello world"))], mode="chain")[0][0], abs=1e-9)


def test_rolling_covers_every_token_once_in_windows_that_fit(lm: MDLM) -> None:
    tokens = list(range(100, 250))
    windows = rolling_windows(tokens, [7], 64)
    assert [t for _, chunk in windows for t in chunk] == tokens
    assert all(len(c) + len(x) <= 64 for c, x in windows) and windows[0][0] == [7]
    assert windows[1][0] == tokens[:32]  # later windows condition on the tokens just before
    model = MDLM(pretrained=lm.pretrained, likelihood="chain", batch_size=16)
    text = "The quick brown fox jumps over the lazy dog. " * 6
    ids = model.tokenizer(text, add_special_tokens=False).input_ids
    assert len(ids) > 64
    total = model.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (text,), 0)], disable_tqdm=True)[0]
    expected = sum(v for v, _ in score(lm, rolling_windows(ids, [], 64), mode="chain"))
    assert total == pytest.approx(expected, abs=1e-9) and total < 0


@pytest.mark.parametrize(("args", "message"), [
    ({"likelihood": "mc"}, "likelihood='mc' is unknown; valid values: elbo, chain"),
    ({"order": "spiral"}, "order='spiral' is unknown; valid values: l2r, r2l, random"),
    ({"elbo_variant": "x"}, "elbo_variant='x' is unknown; valid values: llada, dream"),
    ({"mc_num": "0"}, "mc_num='0' is invalid: it must be an integer >= 1"),
    ({"mc_num": "many"}, "mc_num='many' is invalid: it must be an integer"),
    ({"likelihood_batch_size": "0"}, "likelihood_batch_size='0' is invalid"),
])
def test_bad_likelihood_args_are_clear_errors(lm: MDLM, args: dict, message: str) -> None:
    # names are checked by the likelihood estimators, numbers by the one model-argument validator (config.py)
    with pytest.raises((LikelihoodError, ConfigError), match=message):
        MDLM(pretrained=lm.pretrained, **args)


def test_continuation_longer_than_the_model_is_refused(lm: MDLM) -> None:
    req = Instance("loglikelihood", {}, ("a", " b" * 80), 0)
    with pytest.raises(LikelihoodError, match="exceeds the model's max_length=64.*loglikelihood_rolling"):
        lm.loglikelihood([req], disable_tqdm=True)


ARC_ITEMS = [
    {"id": "q1", "question": "Which gas do plants take in?", "answerKey": "B",
     "choices": {"text": ["oxygen", "carbon dioxide", "helium", "neon"], "label": ["A", "B", "C", "D"]}},
    {"id": "q2", "question": "What is 2 plus 2?", "answerKey": "3",
     "choices": {"text": ["1", "2", "3", "4"], "label": ["1", "2", "3", "4"]}},
    {"id": "q3", "question": "Which is a mammal?", "answerKey": "A",
     "choices": {"text": ["whale", "shark", "trout"], "label": ["A", "B", "C"]}},
]


def test_arc_style_multiple_choice_runs_end_to_end(lm: MDLM, tmp_path: Path) -> None:
    import lm_eval
    from lm_eval.tasks import TaskManager

    data = tmp_path / "arc_local.jsonl"
    data.write_text("\n".join(json.dumps(item) for item in ARC_ITEMS))
    arc = Path(lm_eval.__file__).parent / "tasks" / "arc" / "arc_easy.yaml"
    (tmp_path / "arc_local.yaml").write_text(  # lm-eval's own ARC prompt on a local copy of three items
        f"include: {arc}\ntask: arc_local\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\ntraining_split: null\nvalidation_split: null\n"
        "test_split: test\n")
    out = lm_eval.simple_evaluate(model="mdlm", model_args=f"pretrained={lm.pretrained},likelihood=chain",
                                  tasks=["arc_local"], task_manager=TaskManager(include_path=str(tmp_path)),
                                  device="cpu", batch_size=8, log_samples=True)
    samples = out["samples"]["arc_local"]
    assert [len(s["resps"]) for s in samples] == [4, 4, 3]
    reference = MDLM(pretrained=lm.pretrained, likelihood="chain")
    for sample in samples:
        got = [r[0][0] for r in sample["resps"]]
        assert all(v < 0 for v in got)
        asked = [Instance("loglikelihood", {}, tuple(a), 0) for a in sample["arguments"]]
        assert got == pytest.approx([v for v, _ in reference.loglikelihood(asked, disable_tqdm=True)], rel=1e-6)
    accuracy = sum(s["acc"] for s in samples) / len(samples)
    assert out["results"]["arc_local"]["acc,none"] == pytest.approx(accuracy)


@pytest.mark.parametrize("op", ["shuffle", "replace_random"])
def test_all_estimators_agree_with_the_exact_joint_of_an_oracle(op: str) -> None:
    """A model with a consistent joint: every order's chain is exact, the ELBO's mean too."""
    from lm_eval_mdlm.oracle import load_oracle
    from lm_eval_mdlm.oracle.theory import exact_joint

    oracle = load_oracle(f"oracle:{op}?noise=0&items=8")
    items = ["A", "B", "C", "D"]
    prompt = oracle.prompt_ids(items, word="E")
    joint = exact_joint(oracle, prompt, len(items))
    ids = oracle.vocab.ids
    outcome = joint.outcomes[len(joint.probs) // 2]
    exact = math.log(joint.probs[len(joint.probs) // 2])
    answer = [ids["["]] + [t for j, item in enumerate(outcome) for t in ([ids[","]] if j else []) + [int(item)]]
    answer += [ids["]"], oracle.vocab.eos]  # the oracle's layout: the list, then EOS

    def run(**config) -> float:
        return score_requests(oracle, [(prompt, answer)], LikelihoodConfig(**{"batch_size": 512, **config}),
                              mask_id=oracle.mask_id, pad_id=oracle.pad_id)[0][0]

    assert run(mode="chain") == pytest.approx(exact, abs=1e-9)
    assert run(mode="chain", order="r2l") == pytest.approx(exact, abs=1e-9)
    assert {round(run(mode="chain", order="random", seed=s), 9) for s in range(10)} == {round(exact, 9)}
    for variant in ("llada", "dream"):
        values = torch.tensor([run(mc_num=32, seed=s, elbo_variant=variant) for s in range(30)])
        assert abs(values.mean() - exact) < max(4 * values.std() / math.sqrt(30), 1e-9), variant
