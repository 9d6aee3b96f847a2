"""Per-token commit confidence in decoding traces: what it is, and that it is the committed token's."""

from __future__ import annotations

import json

import torch

from lm_eval_mdlm.decoding.loop import commit_confidence
from lm_eval_mdlm.model import MDLM
from tests.test_model import PROMPTS, request


def test_commit_confidence_is_the_softmax_probability_of_the_token() -> None:
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, float("-inf")]])
    got = commit_confidence(logits, torch.tensor([1, 0]))
    e2 = torch.exp(torch.tensor(2.0, dtype=torch.float64))
    assert got.dtype == torch.float64
    assert torch.allclose(got, torch.stack([torch.tensor(0.25, dtype=torch.float64), e2 / (e2 + 2)]))


def test_threshold_commits_carry_their_confidence(sharp_bert: str) -> None:
    """threshold commits every position scoring >= 0.6, or the single best: a step that committed several
    tokens committed only tokens of confidence >= 0.6, and a greedy confidence is never above 1."""
    lm = MDLM(pretrained=sharp_bert, strategy="threshold", threshold=0.6, batch_size=4)
    out = lm.generate_until([request(c, doc_id=i) for i, c in enumerate(PROMPTS)], disable_tqdm=True)
    multi = 0
    for answer in out:
        steps, conf = answer.trace["finalization_steps"], answer.trace["commit_confidence"]
        assert len(conf) == len(steps) and all(0.0 < c <= 1.0 for c in conf)
        for step in set(steps):
            shared = [c for s, c in zip(steps, conf) if s == step]
            if len(shared) > 1:
                multi += 1
                assert min(shared) >= 0.6 - 5e-4  # stored rounded to 3 decimals
    assert multi > 0


def test_trace_file_stays_compact(tiny_bert: str, tmp_path) -> None:
    path = tmp_path / "t.jsonl"
    lm = MDLM(pretrained=tiny_bert, trace_path=str(path))
    lm.generate_until([request("hello", max_gen_toks=32)], disable_tqdm=True)
    record = json.loads(path.read_text())
    assert all(len(repr(c)) <= 5 for c in record["commit_confidence"])  # e.g. 0.123
