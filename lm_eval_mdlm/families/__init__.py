"""Model-family adapters: everything that differs between MDLM checkpoints sits behind ``Denoiser``.

A denoiser answers one question for the engine: "logits for this canvas", aligned so that
``logits[:, i]`` predicts token ``i``, for a left-padded batch with a boolean (B, L) attention mask.
It also knows its mask, EOS and pad ids and its maximum length. The family (:class:`Family`, picked
from the checkpoint's ``model_type``/``architectures`` or ``family=``) decides the mask layout,
position ids, logit alignment and how the weights are loaded; see docs/families.md.

Modules: ``base`` (contract + Denoiser), ``llada``, ``dream``, ``sdar`` and ``llada2`` (block
diffusion; their block-causal mask and exact block cache in ``block_causal``), ``moe`` (LLaDA-MoE and
SDAR-MoE on Qwen3-MoE), ``hub_tokenizers`` (tokenizers as the hub repos ship them), ``bert`` (masked LMs and
recognised-but-unsupported families), ``native`` (loading without remote code),
``loading`` (``load_denoiser``), ``cache`` (Fast-dLLM KV caching, ``cache=prefix|dual``), ``fixtures`` and
``fixtures_moe`` (tiny checkpoints in the hub repos' layouts, for tests), ``diffusion_gemma`` (DiffusionGemma,
decoded by its own ``generate()``: ``strategy=generate``; its tiny checkpoint in ``diffusion_gemma_fixture``).
"""

from lm_eval_mdlm.families.base import DTYPES, Denoiser, Family
from lm_eval_mdlm.families.loading import FAMILIES, detect_family, load_denoiser, resolve_mask_id

FamilySpec = Family  # the name this module exported before family adapters existed

__all__ = ["DTYPES", "FAMILIES", "Denoiser", "Family", "FamilySpec", "detect_family", "load_denoiser",
           "resolve_mask_id"]
