"""The default model: a small masked-diffusion LM the project trains itself and ships in the package.

``--model mdlm`` without ``pretrained=`` loads :data:`CHECKPOINT`, so the plugin runs offline on a
fresh machine. ``recipe.json`` next to the weights records the exact settings and timings; how it was
trained (and how to retrain it from a source checkout) is docs/default_model.md.
"""

from __future__ import annotations

import os

CHECKPOINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoint")


def default_checkpoint() -> str:
    """The shipped checkpoint folder; a clear error if this install lacks it."""
    if not os.path.isfile(os.path.join(CHECKPOINT, "config.json")):
        raise FileNotFoundError(
            f"the default model is missing from this install ({CHECKPOINT}); pass pretrained=<model folder "
            "or hub id>, or retrain it from a source checkout with `python -m research.default_model`.")
    return CHECKPOINT
