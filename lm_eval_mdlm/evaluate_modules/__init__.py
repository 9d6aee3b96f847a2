"""Our custom metrics as Hugging Face ``evaluate`` modules, loadable from a local path.

``evaluate.load(module_path("afp"))`` gives the same numbers as the functions in
:mod:`lm_eval_mdlm.metrics` (the modules are thin wrappers around them), for people who collect
metrics through ``evaluate``. Loading needs no network: the scripts live in this package.

* ``pb_grammar``: ParallelBench grammar score of texts (``backend``: ``languagetool`` or ``harper``);
* ``afp``: average finalization parallelism of decoding traces;
* ``kendall_tau``: Kendall's tau-b between position and finalization step (``block_length`` for
  the per-block variant).

The trace modules take each answer's finalization steps, as written in the ``finalization_steps``
field of the ``mdlm_traces_*.jsonl`` files.
"""

from __future__ import annotations

import os

MODULES = ("pb_grammar", "afp", "kendall_tau")


def module_path(name: str) -> str:
    """The folder to pass to ``evaluate.load`` for one of :data:`MODULES`."""
    if name not in MODULES:
        raise ValueError(f"unknown evaluate module {name!r}; available: {', '.join(MODULES)}.")
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
