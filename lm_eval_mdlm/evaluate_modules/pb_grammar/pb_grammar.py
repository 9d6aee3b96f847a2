"""ParallelBench grammar score as an ``evaluate`` metric (wraps lm_eval_mdlm.metrics.grammar)."""

import datasets
import evaluate

from lm_eval_mdlm.metrics.grammar import DEFAULT_BACKEND, get_checker

_DESCRIPTION = """Grammar score of ParallelBench (Kang et al.): 1 for a non-empty text in which the checker
finds no issue, else 0. Backends: 'languagetool' (language-tool-python, en-US, as the paper; pass
languagetool_url for a remote server) and 'harper' (harper-py, offline)."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of texts.
    backend: 'languagetool' (default) or 'harper'.
    languagetool_url: URL of a LanguageTool server (languagetool backend only).
Returns:
    grammar: mean score; grammar_per_sample: the 0/1 score of each text; grammar_backend: the backend used.
Examples:
    >>> metric = evaluate.load(module_path("pb_grammar"))
    >>> metric.compute(predictions=["This is an test."], backend="harper")["grammar"]
    0.0
"""

_CITATION = """@article{kang2025parallelbench, title={ParallelBench: Understanding the Trade-offs of Parallel
Decoding in Diffusion LLMs}, author={Kang, Wonjun and Galim, Kevin and Oh, Seunghyuk and others}, year={2025}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PbGrammar(evaluate.Metric):
    """Grammar verdicts of one backend, averaged."""

    def _info(self):
        return evaluate.MetricInfo(description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
                                   features=datasets.Features({"predictions": datasets.Value("string")}))

    def _compute(self, predictions, backend=DEFAULT_BACKEND, languagetool_url=None):
        checker = get_checker(backend, languagetool_url)
        scores = [checker.score(text) for text in predictions]
        return {"grammar": sum(scores) / len(scores) if scores else float("nan"),
                "grammar_per_sample": scores, "grammar_backend": checker.backend}
