"""Text Writing metrics: ROUGE-L, 1 - BLEU, inclusion, BERTScore (available and unavailable)."""

from __future__ import annotations

import logging
import math

import pytest

from lm_eval_mdlm.metrics import text
from lm_eval_mdlm.metrics.grammar import GrammarChecker
from lm_eval_mdlm.tasks.scoring import score_answer

SOURCE = "Any idea of what sweater this is?"
PARAPHRASE = "Do you know what kind of sweater this is?"


def test_rouge_l_with_stemming():
    pytest.importorskip("rouge_score", reason="rouge-score is an optional dependency")
    summary = "Steve and Rob will talk about new Dream Theater album, after they finish listening."
    assert text.rouge_l(summary, summary) == pytest.approx(1.0)
    # stemming: "listens"/"listening" and "talked"/"talk" match
    assert text.rouge_l("Rob talked", "Rob will talk") == pytest.approx(2 * (1.0 * 2 / 3) / (1.0 + 2 / 3))
    assert text.rouge_l("completely unrelated words", summary) == 0.0


def test_bleu_follows_papineni_without_smoothing():
    pytest.importorskip("sacrebleu", reason="sacrebleu is an optional dependency")
    assert text.bleu(SOURCE, SOURCE) == pytest.approx(1.0)
    assert text.inverse_bleu(SOURCE, SOURCE) == pytest.approx(0.0)
    # 13a tokens: 10 vs 8 ("?" is a token); n-gram precisions 6/10, 3/9, 2/8, 1/7; longer, so no brevity penalty
    expected = (6 / 10 * 3 / 9 * 2 / 8 * 1 / 7) ** 0.25
    assert text.bleu(PARAPHRASE, SOURCE) == pytest.approx(expected)
    assert text.inverse_bleu("Can you identify this sweater?", SOURCE) == pytest.approx(1.0)  # no shared 4-gram
    # shorter than the source: brevity penalty exp(1 - 8/7) on precisions 7/7, 6/6, 5/5, 4/4
    assert text.bleu("Any idea of what sweater this is", SOURCE) == pytest.approx(math.exp(1 - 8 / 7))


def test_words_included_is_the_official_substring_test():
    words = ["dog", "park", "ball", "throw"]
    assert text.words_included("I love to throw the ball for my dog at the park.", words) == 1.0
    assert text.words_included("I love throwing the ball for my dog at the park.", words) == 1.0
    assert text.words_included("I love to throw the ball for my cat at the park.", words) == 0.0


def test_bertscore_unavailable_is_nan_with_a_warning(caplog):
    pytest.importorskip("bert_score", reason="bert-score is an optional dependency")
    scorer = text.BertScore("/nonexistent/bertscore-model", num_layers=2)
    with caplog.at_level(logging.WARNING):
        assert math.isnan(scorer.f1(PARAPHRASE, SOURCE))
        assert math.isnan(scorer.f1(SOURCE, SOURCE))
    assert not scorer.available
    assert sum("BERTScore is unavailable" in r.message for r in caplog.records) == 1


def test_bertscore_unknown_model_needs_its_layer():
    pytest.importorskip("bert_score", reason="bert-score is an optional dependency")
    with pytest.raises(ValueError, match="bertscore_num_layers"):
        text.BertScore("/some/local/model").f1(PARAPHRASE, SOURCE)


@pytest.fixture(scope="module")
def local_bert(tiny_bert):
    """The tiny test BERT (its tokenizer has a finite model_max_length, which bert-score truncates to)."""
    pytest.importorskip("bert_score", reason="bert-score is an optional dependency")
    return tiny_bert


def test_bertscore_with_a_configured_local_model(local_bert):
    scorer = text.BertScore(local_bert, num_layers=2)
    assert scorer.available
    assert scorer.f1(SOURCE, SOURCE) == pytest.approx(1.0, abs=1e-5)
    assert 0.0 < scorer.f1(PARAPHRASE, SOURCE) < 1.0


def test_paraphrase_scores_with_and_without_bertscore(local_bert):
    pytest.importorskip("harper", reason="harper-py is an optional dependency")
    checker = GrammarChecker("harper")
    reference = {"source": SOURCE}
    ok = score_answer("paraphrasing", PARAPHRASE, reference, checker, text.BertScore(local_bert, num_layers=2))
    assert ok["grammar"] == 1.0 and 0 < ok["bertscore"] < 1 and 0 < ok["inv_bleu"] < 1
    assert ok["score"] == pytest.approx(ok["grammar"] * ok["bertscore"] * ok["inv_bleu"])
    missing = score_answer("paraphrasing", PARAPHRASE, reference, checker, text.BertScore("/nonexistent/m", 2))
    assert math.isnan(missing["bertscore"]) and math.isnan(missing["score"])
    assert missing["inv_bleu"] == ok["inv_bleu"] and missing["grammar"] == 1.0
    empty = score_answer("paraphrasing", "", reference, checker, text.BertScore(local_bert, num_layers=2))
    assert empty == {"score": 0.0, "grammar": 0.0, "bertscore": 0.0, "inv_bleu": 0.0}


def test_summary_and_words_to_sentence_scores():
    pytest.importorskip("harper", reason="harper-py is an optional dependency")
    checker = GrammarChecker("harper")
    summary = "Steve and Rob will talk about the new album after they finish listening."
    assert score_answer("summarization", summary, {"summary": summary}, checker) == \
        {"score": pytest.approx(1.0), "grammar": 1.0, "rougeL": pytest.approx(1.0)}
    bad = score_answer("summarization", "Steve and and Rob will talk.", {"summary": summary}, checker)
    assert bad["grammar"] == 0.0 and bad["score"] == 0.0 and bad["rougeL"] > 0
    words = {"words": ["ball", "bridge", "elephant", "open"]}
    failure = "The elephant walked across the the old bridge, looking carrying an open ball."
    assert score_answer("words_to_sentence", failure, words, checker) == \
        {"score": 0.0, "score_strict": 0.0, "grammar": 0.0, "inclusion": 1.0}
    fixed = "The elephant carried an open ball across the old bridge."
    # the official Words-to-Sentence validator has no stricter rule: score_strict is score
    assert score_answer("words_to_sentence", fixed, words, checker) == \
        {"score": 1.0, "score_strict": 1.0, "grammar": 1.0, "inclusion": 1.0}
