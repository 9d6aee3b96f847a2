"""Model-family adapters: everything that differs between MDLM checkpoints sits behind ``Denoiser``.

A denoiser answers one question for the engine: "logits for this canvas", aligned so that
``logits[:, i]`` predicts token ``i``, for a left-padded batch with a boolean attention mask. It also
knows its mask, EOS and pad ids and its maximum length. Loading picks the model class from the
checkpoint's config and refuses models that cannot denoise (causal-only LMs).
"""

from __future__ import annotations

import inspect
import logging
import os
from dataclasses import dataclass
from typing import Any

import torch

from lm_eval_mdlm.oracle import is_oracle_spec, load_oracle

logger = logging.getLogger(__name__)

DTYPES = {"auto": "auto", "bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


@dataclass(frozen=True)
class FamilySpec:
    """Known ids and loading class of a model family (values from the families' public code)."""

    mask_id: int | None = None
    eos_ids: tuple[int, ...] = ()
    auto_class: str = "AutoModelForMaskedLM"


# model_type -> spec. LLaDA ids from GSAI-ML/LLaDA generate.py (mask_id=126336) and the checkpoint's
# tokenizer (<|endoftext|> 126081 is EOS and pad, <|eot_id|> 126348 ends a chat turn).
FAMILIES: dict[str, FamilySpec] = {
    "llada": FamilySpec(mask_id=126336, eos_ids=(126081, 126348), auto_class="AutoModel"),
}


class Denoiser:
    """A bidirectional masked LM behind the engine's ``Forward`` interface (unshifted logits)."""

    def __init__(self, model: torch.nn.Module, tokenizer: Any, mask_id: int, eos_ids: tuple[int, ...],
                 pad_id: int, max_length: int, family: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.mask_id = mask_id
        self.eos_ids = eos_ids
        self.pad_id = pad_id
        self.max_length = max_length
        self.family = family
        params = inspect.signature(model.forward).parameters
        # Models with learned absolute positions (BERT) are wrong under left padding unless each
        # row's positions start at its first real token; RoPE models accept them harmlessly.
        self._position_ids = "position_ids" in params

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.inference_mode()
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        kwargs: dict[str, Any] = {"attention_mask": attention_mask.long()}
        if self._position_ids:
            kwargs["position_ids"] = (attention_mask.long().cumsum(-1) - 1).clamp_min(0)
        return self.model(input_ids=input_ids, **kwargs).logits


def _check_can_denoise(config: Any, name: str) -> str:
    """The auto class to load ``config`` with, or a clear error for causal-only models."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    model_type = getattr(config, "model_type", None)
    if model_type in FAMILIES:
        return FAMILIES[model_type].auto_class
    auto_map = getattr(config, "auto_map", None) or {}
    for auto_class in ("AutoModelForMaskedLM", "AutoModel"):
        if auto_class in auto_map:
            return auto_class
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return "AutoModelForMaskedLM"
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or "AutoModelForCausalLM" in auto_map:
        raise ValueError(
            f"pretrained={name!r} is a causal (left-to-right) language model (model_type "
            f"{model_type!r}): it cannot fill masked positions, so --model mdlm cannot decode with it. "
            "Use a masked-diffusion or masked LM (LLaDA, Dream, BERT-style, ...), or evaluate this "
            "model with --model hf.")
    raise ValueError(
        f"pretrained={name!r} has model_type {model_type!r}, which --model mdlm does not know how to "
        f"load. Supported: masked LMs of transformers ({len(MODEL_FOR_MASKED_LM_MAPPING_NAMES)} "
        f"types, e.g. bert, modernbert), remote-code models with an AutoModel entry, and "
        f"{', '.join(sorted(FAMILIES))}.")


def resolve_mask_id(tokenizer: Any, vocab_size: int, override: int | None, family: FamilySpec | None,
                    name: str) -> int:
    """The mask id: the override, else the tokenizer's mask token, else the family's known id."""
    mask_id = override
    if mask_id is None:
        mask_id = getattr(tokenizer, "mask_token_id", None)
    if mask_id is None and family is not None:
        mask_id = family.mask_id
    if mask_id is None:
        raise ValueError(
            f"the tokenizer of {name!r} has no mask token and no mask_id was given: pass the id of "
            "the token the model was trained to denoise, e.g. --model_args pretrained=...,mask_id=126336.")
    if not 0 <= int(mask_id) < vocab_size:
        raise ValueError(f"mask_id={mask_id} lies outside the model's vocabulary [0, {vocab_size}); "
                         "pass the id of the model's mask token.")
    return int(mask_id)


def load_denoiser(pretrained: str, *, revision: str | None = None, dtype: str = "auto",
                  device: str | torch.device = "cpu", trust_remote_code: bool = False,
                  mask_id: int | None = None, max_length: int | None = None,
                  device_map: str | dict | None = None, max_memory: dict | None = None,
                  offload_folder: str | None = None) -> Any:
    """Load a checkpoint (local folder or hub id) and its tokenizer as a :class:`Denoiser`, or an
    oracle (``pretrained=oracle:<op>?...``, :mod:`lm_eval_mdlm.oracle`) with the same interface."""
    import transformers

    if is_oracle_spec(pretrained):  # exact models of ParallelBench §4's list operations
        if mask_id is not None:
            raise ValueError(f"mask_id={mask_id} cannot be set for {pretrained!r}: an oracle's vocabulary and "
                             "mask token are fixed; drop mask_id.")
        return load_oracle(pretrained, device=device, max_length=max_length)
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r} is unknown; valid values: {', '.join(DTYPES)}.")
    path = os.path.expanduser(pretrained)
    if not os.path.isdir(path) and (os.path.isabs(path) or pretrained.startswith(".") or pretrained.count("/") > 1):
        raise FileNotFoundError(f"pretrained={pretrained!r}: no such folder. Give a local model folder "
                                "or a hub id such as GSAI-ML/LLaDA-8B-Instruct.")
    try:
        config = transformers.AutoConfig.from_pretrained(pretrained, revision=revision,
                                                         trust_remote_code=trust_remote_code)
    except OSError as err:
        raise FileNotFoundError(
            f"pretrained={pretrained!r} could not be loaded: it is neither a local model folder nor a "
            f"reachable hub model ({err.__class__.__name__}: {str(err).splitlines()[0]})") from err
    auto_class = _check_can_denoise(config, pretrained)
    tokenizer = transformers.AutoTokenizer.from_pretrained(pretrained, revision=revision,
                                                           trust_remote_code=trust_remote_code)
    split = {k: v for k, v in (("device_map", device_map), ("max_memory", max_memory),
                                ("offload_folder", offload_folder)) if v is not None} if device_map else {}
    model = getattr(transformers, auto_class).from_pretrained(
        pretrained, revision=revision, trust_remote_code=trust_remote_code, dtype=DTYPES[dtype], **split)
    if not split:  # a device_map places the layers itself; .to() would undo it
        model.to(device)
    model.eval()
    family = FAMILIES.get(getattr(config, "model_type", None))
    vocab_size = model.get_output_embeddings().weight.shape[0] if model.get_output_embeddings() is not None \
        else config.vocab_size
    mask = resolve_mask_id(tokenizer, vocab_size, mask_id, family, pretrained)
    eos_ids = tuple(family.eos_ids) if family and family.eos_ids else tuple(
        i for i in (tokenizer.eos_token_id, getattr(tokenizer, "sep_token_id", None)) if i is not None)
    if not eos_ids:
        logger.warning("%s: no EOS token known; answers run to max_gen_toks and stop only at `until`.",
                       pretrained)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos_ids or (0,))[0]
    limit = max_length or getattr(config, "max_position_embeddings", None) or tokenizer.model_max_length
    return Denoiser(model, tokenizer, mask, eos_ids, int(pad_id), int(limit),
                    family=getattr(config, "model_type", "unknown"))
