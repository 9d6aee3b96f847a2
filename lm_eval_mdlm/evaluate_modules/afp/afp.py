"""Average finalization parallelism as an ``evaluate`` metric (wraps lm_eval_mdlm.metrics.decoding.afp)."""

import datasets
import evaluate

from lm_eval_mdlm.metrics.decoding import afp, mean_defined

_STEPS = datasets.Sequence(datasets.Value("int64"))  # finalization step of each answer token
_DESCRIPTION = """AFP (arXiv 2601.15593): answer length / number of distinct finalization steps, per answer,
then averaged over the answers where it is defined (non-empty answers)."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: one list per answer: the denoising step at which each answer token was finalized
        (the ``finalization_steps`` of an mdlm trace record).
Returns:
    afp: mean AFP (NaN if no answer is non-empty); afp_per_sample: AFP of each answer (None if empty).
Examples:
    >>> evaluate.load(module_path("afp")).compute(predictions=[[1, 1, 2, 2]])["afp"]
    2.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Afp(evaluate.Metric):
    """Mean AFP over answers."""

    def _info(self):
        return evaluate.MetricInfo(description=_DESCRIPTION, citation="", inputs_description=_KWARGS_DESCRIPTION,
                                   features=datasets.Features({"predictions": _STEPS}))

    def _compute(self, predictions):
        values = [afp(steps) for steps in predictions]
        mean = mean_defined(values)
        return {"afp": float("nan") if mean is None else mean, "afp_per_sample": values}
