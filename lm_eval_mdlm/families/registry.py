"""Every model family by name, and which one a checkpoint belongs to.

The registry imports each family module; none of them imports the registry back (the generic
:class:`~lm_eval_mdlm.families.base.Denoiser` and ``load_denoiser`` sit above it).
"""

from __future__ import annotations

import logging
from typing import Any

from lm_eval_mdlm.families.bert import MASKED_LM
from lm_eval_mdlm.families.diffusion_gemma import DIFFUSION_GEMMA
from lm_eval_mdlm.families.dream import DREAM
from lm_eval_mdlm.families.llada import LLADA
from lm_eval_mdlm.families.llada2 import LLADA2
from lm_eval_mdlm.families.moe import LLADA_MOE, SDAR_MOE
from lm_eval_mdlm.families.sdar import SDAR
from lm_eval_mdlm.families.spec import Family

logger = logging.getLogger(__name__)

FAMILIES: dict[str, Family] = {f.name: f for f in (LLADA, LLADA_MOE, DREAM, MASKED_LM, LLADA2, SDAR, SDAR_MOE,
                                                   DIFFUSION_GEMMA)}
"""Every family by name (the values ``family=`` accepts, optionally with ``:remote``)."""


def _masked_lm_types() -> set[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    return set(MODEL_FOR_MASKED_LM_MAPPING_NAMES)


def _detected(config: dict[str, Any]) -> Family | None:
    """The family of a config: ``architectures`` first (LLaDA-MoE's hub config says ``model_type: llada``
    with ``architectures: [LLaDAMoEModelLM]``), then ``model_type``."""
    archs = set(config.get("architectures") or ())
    by_architecture = next((f for f in FAMILIES.values() if archs & set(f.architectures)), None)
    return by_architecture or next((f for f in FAMILIES.values() if f.matches(config)), None)


def detect_family(config: dict[str, Any], name: str, override: str | None) -> tuple[Family | None, bool]:
    """(family, remote) for a checkpoint: the ``family=`` override, else the config's family; None
    means "no known family: use transformers' auto classes". Raises for unknown or unsupported values."""
    remote = False
    if override:
        family_name, _, mode = str(override).partition(":")
        if mode not in ("", "remote") or family_name not in FAMILIES:
            raise ValueError(f"family={override!r} is unknown; valid values: {', '.join(FAMILIES)} "
                             "(append ':remote' to run the checkpoint's own code, e.g. family=dream:remote).")
        family, remote = FAMILIES[family_name], mode == "remote"
        detected = _detected(config)
        if detected is not None and detected is not family:
            logger.warning("family=%s overrides %s's detected family %s", family.name, name, detected.name)
    else:
        family = _detected(config)
        if family is None and str(config.get("model_type", "")).lower() in _masked_lm_types():
            family = MASKED_LM
    if family is not None and family.unsupported:
        supported = ", ".join(f.name for f in FAMILIES.values() if not f.unsupported)
        raise ValueError(f"pretrained={name!r} is a {family.name} checkpoint, which --model mdlm cannot run yet: "
                         f"{family.unsupported}. Supported families: {supported}.")
    return family, remote
