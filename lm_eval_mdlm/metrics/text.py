"""Text Writing metrics of ParallelBench (paper §5 "Evaluation Metrics", Table 6).

* Summarization: ROUGE-L F-measure against the reference summary, Porter stemming on
  (``rouge-score``, as the official ``evaluate.load("rouge")`` call with ``use_stemmer=True``).
* Paraphrasing: lexical diversity 1 - BLEU against the *source* sentence, and semantic similarity
  BERTScore F1 against the source. BLEU is the ``evaluate`` "bleu" definition (Papineni et al.:
  clipped 1-4-gram precisions, geometric mean, brevity penalty, no smoothing, 13a tokenization),
  computed with ``sacrebleu`` set to exactly those choices.
* Words-to-Sentence: inclusion = every requested word occurs in the answer, as the official scorer
  tests it (case-sensitive substring test, so "throw" is found in "throwing").

Optional packages are imported when first needed; a missing one is a clear error naming the extra.
BERTScore is different on purpose: its model may simply not be downloadable (offline machines), and
then the metric is *unavailable*, reported as NaN with a warning, never as a score of 0.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'lm-eval-mdlm[parallelbench]'"
DEFAULT_BERTSCORE_MODEL = "roberta-large"  # bert-score's (and evaluate's) default model for lang="en"


def _require(module: str, package: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise ImportError(f"this ParallelBench metric needs the '{package}' package, which is not installed: "
                          f"{EXTRA_HINT} (or pip install {package}).") from exc


_ROUGE_SCORER: Any = None


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure of ``prediction`` against ``reference`` with Porter stemming (0 if empty)."""
    global _ROUGE_SCORER
    if _ROUGE_SCORER is None:
        rouge_scorer = _require("rouge_score.rouge_scorer", "rouge-score")
        _ROUGE_SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(_ROUGE_SCORER.score(reference.strip(), prediction.strip())["rougeL"].fmeasure)


def bleu(prediction: str, source: str) -> float:
    """Sentence BLEU in [0, 1] of ``prediction`` against the single reference ``source``."""
    sacrebleu = _require("sacrebleu", "sacrebleu")
    result = sacrebleu.corpus_bleu([prediction.strip()], [[source.strip()]], smooth_method="none",
                                   tokenize="13a", use_effective_order=False)
    return float(result.score) / 100.0


def inverse_bleu(prediction: str, source: str) -> float:
    """1 - BLEU against the source sentence: high when the paraphrase does not just copy it."""
    return 1.0 - bleu(prediction, source)


def words_included(prediction: str, words: Sequence[str]) -> float:
    """1.0 if every word of ``words`` occurs in ``prediction`` (official substring test)."""
    return float(all(word in prediction for word in words))


class BertScore:
    """BERTScore F1 with a configurable model, loaded once, lazily.

    ``model`` is a bert-score model name (default ``roberta-large``, bert-score's choice for English)
    or a local folder; ``num_layers`` is required for models bert-score does not know. If the model
    cannot be loaded (no network, no local copy) :attr:`available` becomes False, one warning is
    logged and :meth:`f1` returns NaN.
    """

    def __init__(self, model: str = DEFAULT_BERTSCORE_MODEL, num_layers: int | None = None,
                 device: str = "cpu") -> None:
        self.model = model
        self.num_layers = num_layers
        self.device = device
        self._scorer: Any = None
        self.error: str | None = None

    @property
    def available(self) -> bool:
        """Whether the model loaded (tries to load it on first use)."""
        self._load()
        return self._scorer is not None

    def _load(self) -> None:
        if self._scorer is not None or self.error is not None:
            return
        bert_score = _require("bert_score", "bert-score")
        if self.num_layers is None and self.model not in bert_score.utils.model2layers:
            raise ValueError(f"bertscore_model={self.model!r} is not a model bert-score knows, so its layer "
                             "must be given: set bertscore_num_layers (e.g. 17 for roberta-large-like models, "
                             "the last layer for small ones).")
        try:
            self._scorer = bert_score.BERTScorer(model_type=self.model, num_layers=self.num_layers,
                                                 lang="en", device=self.device)
        except Exception as exc:  # noqa: BLE001 - any load failure means "unavailable", reported below
            self.error = f"{type(exc).__name__}: {exc}"
            logger.warning("BERTScore is unavailable and will be reported as NaN: could not load model %r "
                           "(%s). Set bertscore_model to a local model folder (with bertscore_num_layers) "
                           "or make the model downloadable.", self.model, self.error.splitlines()[0])

    def f1(self, prediction: str, reference: str) -> float:
        """BERTScore F1 of ``prediction`` against ``reference``; NaN if the model is unavailable."""
        self._load()
        if self._scorer is None:
            return math.nan
        _, _, f1 = self._scorer.score([prediction.strip()], [reference.strip()], verbose=False)
        return float(f1[0])
