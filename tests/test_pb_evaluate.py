"""Our custom metrics loaded as `evaluate` modules from a local path give the same numbers."""

from __future__ import annotations

import math

import pytest

from lm_eval_mdlm.evaluate_modules import MODULES, module_path
from lm_eval_mdlm.metrics.decoding import afp, block_kendall_tau, kendall_tau_b
from lm_eval_mdlm.metrics.grammar import GrammarChecker

evaluate = pytest.importorskip("evaluate", reason="evaluate is an optional dependency")
STEPS = [[1, 2, 3, 4], [4, 3, 2, 1], [1, 1, 2, 2, 3, 3], [2, 1, 4, 3], [5], []]


def test_module_paths():
    assert MODULES == ("pb_grammar", "afp", "kendall_tau")
    with pytest.raises(ValueError, match="unknown evaluate module 'bleu'"):
        module_path("bleu")


def test_afp_module_matches_the_function():
    out = evaluate.load(module_path("afp")).compute(predictions=STEPS)
    assert out["afp_per_sample"] == [afp(s) for s in STEPS]
    assert out["afp"] == pytest.approx((1 + 1 + 2 + 1 + 1) / 5)


def test_kendall_tau_module_matches_the_function():
    module = evaluate.load(module_path("kendall_tau"))
    out = module.compute(predictions=STEPS)
    assert out["kendall_tau_per_sample"] == [kendall_tau_b(range(len(s)), s) for s in STEPS]
    assert out["kendall_tau_per_sample"][:2] == [1.0, -1.0]
    defined = [v for v in out["kendall_tau_per_sample"] if v is not None]
    assert out["kendall_tau"] == pytest.approx(sum(defined) / len(defined))
    blocks = module.compute(predictions=STEPS, block_length=2)
    assert blocks["kendall_tau_per_sample"] == [block_kendall_tau(s, 2) for s in STEPS]
    assert math.isnan(module.compute(predictions=[[1]])["kendall_tau"])


def test_grammar_module_matches_the_checker():
    pytest.importorskip("harper", reason="harper-py is an optional dependency")
    texts = ["What strategies can I use to handle an disrespectful student?", "I love to throw the ball.", ""]
    out = evaluate.load(module_path("pb_grammar")).compute(predictions=texts, backend="harper")
    checker = GrammarChecker("harper")
    assert out["grammar_per_sample"] == [checker.score(t) for t in texts] == [0.0, 1.0, 0.0]
    assert out["grammar"] == pytest.approx(1 / 3) and out["grammar_backend"] == "harper"
