"""Kendall's tau-b of decoding order as an ``evaluate`` metric (wraps lm_eval_mdlm.metrics.decoding)."""

import datasets
import evaluate

from lm_eval_mdlm.metrics.decoding import block_kendall_tau, kendall_tau_b, mean_defined

_STEPS = datasets.Sequence(datasets.Value("int64"))  # finalization step of each answer token
_DESCRIPTION = """Kendall's tau-b between token position and finalization step (1 = strictly left to right,
-1 = right to left); with block_length, the mean tau-b within each semi-autoregressive block."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: one list per answer: the finalization step of each answer token.
    block_length: optional block length for the per-block variant.
Returns:
    kendall_tau: mean over answers where it is defined; kendall_tau_per_sample: each answer's value (None if undefined).
Examples:
    >>> evaluate.load(module_path("kendall_tau")).compute(predictions=[[1, 2, 3]])["kendall_tau"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class KendallTau(evaluate.Metric):
    """Mean Kendall tau-b of decoding order over answers."""

    def _info(self):
        return evaluate.MetricInfo(description=_DESCRIPTION, citation="", inputs_description=_KWARGS_DESCRIPTION,
                                   features=datasets.Features({"predictions": _STEPS}))

    def _compute(self, predictions, block_length=None):
        if block_length is None:
            values = [kendall_tau_b(range(len(steps)), steps) for steps in predictions]
        else:
            values = [block_kendall_tau(steps, int(block_length)) for steps in predictions]
        mean = mean_defined(values)
        return {"kendall_tau": float("nan") if mean is None else mean, "kendall_tau_per_sample": values}
