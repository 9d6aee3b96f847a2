"""Parallel speculative decoding (``strategy=psd``): lossless identity with k=1, hierarchical acceptance,
forward accounting and batch invariance, on hand-made forwards and on every family's tiny checkpoint."""

from __future__ import annotations

import pytest
import torch

from lm_eval_mdlm.config import ConfigError, DecodeConfig
from lm_eval_mdlm.decoding.loop import denoise
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.decoding.schedule import make_schedule
from lm_eval_mdlm.model import MDLM
from tests.test_engine import EOS, MASK, PAD, VOCAB, FixedLogits
from tests.test_model import request

LOSSLESS = {"strategy": "psd", "psd_policy": "top1", "psd_accept": "lossless"}
PROMPTS = ["The cat sat on", "1 2 3 4", "a b", "Once upon a time there"]


def decode(cfg: DecodeConfig, model, length: int, prompts=((5, 6, 7), (8,), (9, 10, 11, 12)), eos_ids=(EOS,)):
    return denoise(model, [list(p) for p in prompts], cfg, make_schedule(cfg, length), mask_id=MASK, pad_id=PAD,
                   eos_ids=eos_ids, keys=row_keys(prompts, cfg.seed), device=torch.device("cpu"))


class Chained:
    """Answer position i predicts token 3 + i confidently once position i - 1 holds its token, else a weak guess
    (token 4 + i): drafts past an unfilled neighbour are wrong, so acceptance must reject them."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __call__(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        answer = ids[:, -self.length:]
        logits = torch.zeros(ids.shape[0], ids.shape[1], VOCAB)
        pos = torch.arange(self.length)
        ready = torch.cat([torch.ones(ids.shape[0], 1, dtype=torch.bool), answer[:, :-1] != MASK], 1)
        right = (3 + pos) % VOCAB
        wrong = (4 + pos) % VOCAB
        confidence = torch.where(ready, 8.0, 1.0 + 0.1 * pos)  # unready positions still rank left to right
        tail = logits[:, -self.length:]
        tail.scatter_(2, torch.where(ready, right, wrong)[..., None], confidence[..., None])
        logits[:, :, [MASK, PAD, EOS]] = -1e4
        return logits


@pytest.mark.parametrize(("length", "block", "eos_at"), [(10, None, ()), (12, 4, (7,)), (9, 5, ()), (8, 3, (2, 5))])
@pytest.mark.parametrize("depth", [1, 2, 4, 8])
def test_lossless_psd_equals_k1_and_takes_one_call_per_depth(length: int, block: int | None, eos_at: tuple,
                                                             depth: int) -> None:
    k1 = decode(DecodeConfig(block_length=block), FixedLogits(length, eos_at), length)
    model = FixedLogits(length, eos_at)
    psd = decode(DecodeConfig(block_length=block, psd_depth=depth, **LOSSLESS), model, length)
    assert torch.equal(psd.answer, k1.answer)
    # predictions never change on this model, so every draft is kept: one plain forward per block, then
    # ceil(block tokens / depth) verifications; the rows run are k=1's steps plus one plain row per block
    if not eos_at:
        sizes = [min(block or length, length - s) for s in range(0, length, block or length)]
        assert psd.nfe.tolist() == [sum(1 + -(-n // depth) for n in sizes)] * 3
        assert psd.row_forwards.tolist() == [length + len(sizes)] * 3
    assert psd.nfe.le(k1.nfe + length).all() and torch.equal(psd.finalized_at > 0, k1.finalized_at > 0)
    assert model.calls == int(psd.nfe.max())


def test_acceptance_rejects_drafts_the_updated_predictions_contradict() -> None:
    length = 6
    k1 = decode(DecodeConfig(), Chained(length), length)
    lossless = decode(DecodeConfig(psd_depth=4, **LOSSLESS), Chained(length), length)
    match = decode(DecodeConfig(strategy="psd", psd_depth=4, psd_policy="top1"), Chained(length), length)
    assert torch.equal(lossless.answer, k1.answer) and lossless.answer[0].tolist() == [3, 4, 5, 6, 7, 8]
    # k=1 fills left to right, but every deeper draft adds the rightmost weak guess: lossless rejects them all
    # (one token per call) although the rejected drafts were still run
    assert lossless.nfe.tolist() == [length + 1] * 3 and lossless.row_forwards.tolist() == [19] * 3
    # match keeps a draft whose tokens the updated predictions repeat, even a weak guess: lossy, fewer calls
    assert match.answer[0].tolist() == [3, 4, 5, 7, 8, 9] and match.nfe.tolist() == [4] * 3


def test_threshold_policy_commits_above_threshold_positions_at_depth_one() -> None:
    length = 12
    plain = decode(DecodeConfig(strategy="threshold", threshold=0.3), FixedLogits(length, scale=2.0), length)
    one = decode(DecodeConfig(strategy="psd", threshold=0.3, psd_depth=1), FixedLogits(length, scale=2.0), length)
    assert torch.equal(one.answer, plain.answer)
    assert one.nfe.tolist() == (plain.nfe + 1).tolist()  # depth 1: the threshold rule, plus the plain first call


@pytest.mark.parametrize("bad", [dict(psd_depth=0), dict(psd_policy="top2"), dict(psd_accept="exact"),
                                 dict(psd_accept="lossless"), dict(cache="prefix", block_length=4),
                                 dict(temperature=1.0), dict(score="random", psd_policy="top1"),
                                 dict(score="entropy"), dict(k=2)])
def test_bad_psd_settings_are_clear_errors(bad: dict) -> None:
    with pytest.raises(ConfigError, match="psd|k=2"):
        DecodeConfig(strategy="psd", **bad)


def _generate(path: str, batch_size: int, **args) -> list[tuple[str, list[int], int, int]]:
    lm = MDLM(pretrained=path, batch_size=batch_size, device="cpu", **args)
    out = lm.generate_until([request(c, doc_id=i) for i, c in enumerate(PROMPTS)], disable_tqdm=True)
    return [(str(o), o.trace["finalization_steps"], o.trace["nfe"], o.trace["row_forwards"]) for o in out]


@pytest.mark.parametrize("fixture", ["tiny_bert", "sharp_bert", "tiny_modernbert", "tiny_llada", "tiny_dream",
                                     "tiny_sdar", "tiny_llada2"])
def test_lossless_psd_is_token_identical_to_k1_on_every_family(fixture: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    block = {"block_length": 4} if fixture in ("tiny_sdar", "tiny_llada2") else {}
    k1 = _generate(path, 4, **block)
    psd = _generate(path, 4, psd_depth=4, **LOSSLESS, **block)
    assert [t for t, *_ in psd] == [t for t, *_ in k1] and any(t for t, *_ in k1)
    for (_, fast, _, _), (_, slow, _, _) in zip(psd, k1):  # same commit order, several steps per call
        assert len(fast) == len(slow)
        assert all(fast[i] <= fast[j] for i in range(len(slow)) for j in range(len(slow)) if slow[i] < slow[j])
    assert sum(n for *_, n, _ in psd) < sum(n for *_, n, _ in k1)
    assert all(rows >= n for *_, n, rows in psd)


@pytest.mark.parametrize("args", [LOSSLESS, {"strategy": "psd", "threshold": 0.5, "psd_depth": 3}])
def test_psd_output_does_not_depend_on_batch_size(args: dict, sharp_bert: str) -> None:
    runs = [_generate(sharp_bert, b, **args) for b in (1, 3, 4)]
    assert runs[0] == runs[1] == runs[2]
    assert any(text for text, *_ in runs[0])


def test_pareto_rival_is_the_best_other_strategy_within_the_same_forwards() -> None:
    from benchmarks.pareto import frontier_gap

    points = [("topk", "k=1", 0.8, 32.0, 32.0), ("threshold", "0.9", 0.7, 4.0, 4.0), ("psd", "a", 0.75, 3.0, 8.0),
              ("psd", "b", 0.9, 10.0, 30.0)]
    assert frontier_gap(points) == ["90", "75", "-", "70"]
