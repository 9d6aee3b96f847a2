"""The default model: a small masked-diffusion LM the project trains itself and ships in the package.

``--model mdlm`` without ``pretrained=`` loads :data:`CHECKPOINT`, so the plugin runs offline on a
fresh machine. ``lm-eval-mdlm train-tiny`` retrains it from scratch (recipe in :mod:`.train`, data in
:mod:`.data`); ``recipe.json`` next to the weights records the exact settings and timings.
"""

from __future__ import annotations

import os

CHECKPOINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoint")


def default_checkpoint() -> str:
    """The shipped checkpoint folder; a clear error if this install lacks it."""
    if not os.path.isfile(os.path.join(CHECKPOINT, "config.json")):
        raise FileNotFoundError(
            f"the default model is missing from this install ({CHECKPOINT}); pass pretrained=<model folder "
            "or hub id>, or retrain it with `lm-eval-mdlm train-tiny`.")
    return CHECKPOINT
