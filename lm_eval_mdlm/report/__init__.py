"""Sweeps and reports: the speed–quality picture of an MDLM (``lm-eval-mdlm sweep`` / ``report``).

* :mod:`.sweep`: run a grid of decoding settings over tasks through lm-eval's Python API, one
  lm-eval output folder per cell, resumable.
* :mod:`.load`: read lm-eval output folders (any ``--model mdlm`` run, with or without ``sweep``).
* :mod:`.analysis`: summary table, AFP/tau by correctness, PBx and the per-sample oracle point.
* :mod:`.plots`: matplotlib figures (Agg canvas only, so no display is ever needed).
* :mod:`.write`: ``report``: everything computed first, then written into the output folder at once.
* :mod:`.order`, :mod:`.calibration`, :mod:`.write_paper`, :mod:`.plots_paper`: the AFP/tau paper's analyses
  (by domain, by reasoning stage, Sudoku fill order, calibration, knee, AR baseline, repetition loops).

See ``docs/report.md`` for the definitions.
"""

from __future__ import annotations


class ReportError(ValueError):
    """Input the sweep or the report cannot use; the message names it and says how to fix it."""
