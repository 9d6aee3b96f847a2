"""Model-family adapters: everything that differs between MDLM checkpoints sits behind ``load_denoiser``,
which returns a :class:`~lm_eval_mdlm.decoding.decoder.Decoder` (what ``--model mdlm`` decodes with).

For every family but DiffusionGemma that is a :class:`Denoiser`, which answers one question for the engine:
"logits for this canvas", aligned so that ``logits[:, i]`` predicts token ``i``, for a left-padded batch with
a boolean (B, L) attention mask. It also knows its mask, EOS and pad ids and its maximum length. The
family (:class:`Family`, picked from the checkpoint's ``model_type``/``architectures`` or ``family=``)
decides the mask layout, position ids, logit alignment and how the weights are loaded; see docs/families.md.

Modules, leaves first: ``spec`` (the :class:`Family` record and shared helpers), ``tokens`` (EOS and mask ids
by string), the families ``bert`` (masked LMs and recognised-but-unsupported families), ``llada``, ``dream``,
``sdar`` and ``llada2`` (block diffusion), ``moe`` (LLaDA-MoE and SDAR-MoE on Qwen3-MoE), ``diffusion_gemma``
(a decoder of its own, no forward: its ``generate()``, ``strategy=generate``); ``native`` (loading without
remote code), ``hub_tokenizers`` (tokenizers as the hub repos ship them), ``block_causal`` (the block-causal mask
and exact block cache), ``cache`` (Fast-dLLM KV caching, ``cache=prefix|dual``), ``registry`` (every family by
name, detection), ``base`` (the :class:`Denoiser`) and ``loading`` (``load_denoiser``). Tiny checkpoints in each
family's hub layout, for tests, are in tests/fixtures.
"""

from lm_eval_mdlm.families.base import Denoiser
from lm_eval_mdlm.families.loading import load_denoiser, resolve_mask_id
from lm_eval_mdlm.families.registry import FAMILIES, detect_family
from lm_eval_mdlm.families.spec import DTYPES, Family

FamilySpec = Family  # the name this module exported before family adapters existed

__all__ = ["DTYPES", "FAMILIES", "Denoiser", "Family", "FamilySpec", "detect_family", "load_denoiser",
           "resolve_mask_id"]
