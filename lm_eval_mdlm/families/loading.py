"""``load_denoiser``: pick the family from the checkpoint's config (or ``family=``), then load it.

Order of preference for a known architecture: native loading into transformers' own modules (no
remote code, works on current transformers); ``family=<name>:remote`` with ``trust_remote_code=True``
runs the checkpoint's own ``modeling_*.py`` instead. Unknown architectures go through transformers'
auto classes as before; causal-only LMs are refused.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import types
from typing import Any

import torch

from lm_eval_mdlm.decoding.decoder import Decoder
from lm_eval_mdlm.families.base import Denoiser
from lm_eval_mdlm.families.bert import MASKED_LM
from lm_eval_mdlm.families.hub_tokenizers import load_without_remote_code, read_tokenizer_config, remote_tokenizer_class
from lm_eval_mdlm.families.native import checkpoint_folder, dispatch, read_config, read_state_dict, torch_dtype
from lm_eval_mdlm.families.registry import FAMILIES, detect_family
from lm_eval_mdlm.families.spec import DTYPES, Family
from lm_eval_mdlm.families.tokens import resolve_eos_ids, token_id
from lm_eval_mdlm.oracle import is_oracle_spec, load_oracle

logger = logging.getLogger(__name__)

def _check_can_denoise(config: Any, name: str) -> str:
    """The auto class to load an unknown-family ``config`` with, or a clear error for causal-only models."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    model_type = getattr(config, "model_type", None)
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
        f"types, e.g. bert, modernbert), remote-code models with an AutoModel entry, and the families "
        f"{', '.join(f.name for f in FAMILIES.values() if not f.unsupported)} (family=... forces one).")


def resolve_mask_id(tokenizer: Any, vocab_size: int, override: int | None, family: Family | None,
                    name: str, config: dict[str, Any] | None = None) -> int:
    """The mask id, first found of: the ``mask_id=`` override; the family's mask token string in the tokenizer
    (the token the family was trained to denoise wins over a tokenizer whose ``mask_token`` names another);
    ``config.mask_token_id`` (diffusion families only); the tokenizer's ``mask_token_id``; the family's released
    id. docs/families.md states the same order."""
    candidates = [override, token_id(tokenizer, family.mask_token) if family else None,
                  # a masked LM's config may name a mask id its tokenizer lacks: only trust diffusion families'
                  (config or {}).get("mask_token_id") if family not in (None, MASKED_LM) else None,
                  getattr(tokenizer, "mask_token_id", None), family.mask_id if family else None]
    mask_id = next((c for c in candidates if c is not None), None)
    if mask_id is None:
        raise ValueError(
            f"the tokenizer of {name!r} has no mask token and no mask_id was given: pass the id of "
            "the token the model was trained to denoise, e.g. --model_args pretrained=...,mask_id=126336.")
    if not 0 <= int(mask_id) < vocab_size:
        raise ValueError(f"mask_id={mask_id} lies outside the model's vocabulary [0, {vocab_size}); "
                         "pass the id of the model's mask token.")
    return int(mask_id)


def block_size(config: dict[str, Any], family: Family) -> int:
    """A block-diffusion checkpoint's attention block: ``block_size`` / ``block_length`` from its config
    (some SDAR-derived configs carry ``block_size``), else the family's released block length."""
    value = config.get("block_size") or config.get("block_length") or family.block_length
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{family.name}: config block size {value!r} is invalid: it must be an integer >= 1. Fix "
                         "block_size in config.json, or remove it to use the family's default "
                         f"({family.block_length}).")
    return value


def _transformers_knows(folder: str) -> bool:
    """Whether transformers has a config class for the folder's ``model_type`` (no config.json: False)."""
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8") as handle:
        return _transformers_knows_type(json.load(handle).get("model_type"))


def _transformers_knows_type(model_type: str | None) -> bool:
    """Whether ``model_type`` has a config class in transformers (else AutoConfig would raise its own error)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return model_type in CONFIG_MAPPING_NAMES


def _tokenizer(path: str, revision: str | None, trust_remote_code: bool) -> Any:
    """The checkpoint's tokenizer: its own class with ``trust_remote_code``, else built natively even when
    ``tokenizer_config.json`` names remote code (:mod:`~lm_eval_mdlm.families.hub_tokenizers`)."""
    import transformers

    folder = path if os.path.isdir(path) else None
    config = read_tokenizer_config(folder) if folder else {}
    if folder and not trust_remote_code and remote_tokenizer_class(config):
        return load_without_remote_code(folder, config)
    kwargs: dict[str, Any] = {}
    if folder and not trust_remote_code and not _transformers_knows(folder):
        # AutoTokenizer would read config.json to find a tokenizer class, fail on the unknown model_type and
        # retry with a bare config, warning "You are using a model of type `llada` to instantiate a model of
        # type ``" on every load. The class comes from tokenizer_config.json here, so skip that read.
        kwargs["config"] = transformers.PretrainedConfig()
    try:
        return transformers.AutoTokenizer.from_pretrained(path, revision=revision,
                                                          trust_remote_code=trust_remote_code, **kwargs)
    except (ValueError, OSError) as err:
        if folder and not os.path.isfile(os.path.join(folder, "tokenizer_config.json")) \
                and not os.path.isfile(os.path.join(folder, "tokenizer.json")):
            raise FileNotFoundError(
                f"{folder} has no tokenizer files (tokenizer.json, tokenizer_config.json, vocab.json + merges.txt, "
                "...): copy the tokenizer files of the hub repo the weights came from into this folder.") from err
        raise


def _load_native(family: Family, name: str, revision: str | None, dtype: str,
                 split: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any], str]:
    """Load into transformers' module (families/native.py); ``split`` (device_map, max_memory, offload_folder)
    places its layers with accelerate after loading."""
    folder = checkpoint_folder(name, revision)
    config = read_config(folder)
    assert family.native is not None
    model = family.native(config, read_state_dict(folder), torch_dtype(DTYPES[dtype], config))
    if split:
        model = dispatch(model, split["device_map"], split.get("max_memory"), split.get("offload_folder"),
                         family.name)
    return model, config, folder


def load_denoiser(pretrained: str, *, revision: str | None = None, dtype: str = "auto",
                  device: str | torch.device = "cpu", trust_remote_code: bool = False,
                  mask_id: int | None = None, max_length: int | None = None,
                  device_map: str | dict | None = None, max_memory: dict | None = None,
                  offload_folder: str | None = None, family: str | None = None) -> Decoder:
    """Load a checkpoint (local folder or hub id) and its tokenizer as a :class:`Denoiser` (or the decoder of a
    family with its own sampler), or an oracle (``pretrained=oracle:<op>?...``, :mod:`lm_eval_mdlm.oracle`)."""
    if is_oracle_spec(pretrained):  # exact models of ParallelBench §4's list operations
        if mask_id is not None:
            raise ValueError(f"mask_id={mask_id} cannot be set for {pretrained!r}: an oracle's vocabulary and "
                             "mask token are fixed; drop mask_id.")
        return load_oracle(pretrained, device=device, max_length=max_length)
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r} is unknown; valid values: {', '.join(DTYPES)}.")
    raw = _read_config(pretrained, revision)
    spec, remote = detect_family(raw, pretrained, family)
    split = {k: v for k, v in (("device_map", device_map), ("max_memory", max_memory),
                                ("offload_folder", offload_folder)) if v is not None} if device_map else {}
    if spec is not None and spec.load is not None:  # decoded by its own sampler (diffusion_gemma)
        return spec.load(pretrained, revision=revision, dtype=dtype, device=device, remote=remote,
                         mask_id=mask_id, max_length=max_length, split=split)
    if spec is not None and spec.native is not None and not remote:
        model, raw, folder = _load_native(spec, pretrained, revision, dtype, split)
        # A full 4-D mask does not depend on how transformers turns a 2-D mask into a 4-D one (causal by
        # default for decoder modules); is_causal=False on every layer is the second guard. Transformers'
        # decoders take a KV cache, so cache=prefix|dual works on this path (families/cache.py).
        spec = dataclasses.replace(spec, mask_layout="4d", kv_cache=True)
        # trust_remote_code=True: the tokenizer's own class (fetched with its code for a hub id)
        tokenizer = _tokenizer(pretrained, revision, True) if trust_remote_code else _tokenizer(folder, None, False)
    else:
        if remote and not trust_remote_code:
            raise ValueError(f"family={family!r} runs the checkpoint's own code: add trust_remote_code=True, "
                             f"or drop ':remote' to load it natively.")
        model, tokenizer = _load_auto(spec, pretrained, revision, dtype, trust_remote_code, raw, split)
    if spec is not None and spec.block_length is not None:
        spec = dataclasses.replace(spec, block_length=block_size(raw, spec))
    if not split:  # a device_map places the layers itself; .to() would undo it
        model.to(device)
    model.eval()
    return _denoiser(model, tokenizer, spec, raw, pretrained, mask_id, max_length)


def _read_config(pretrained: str, revision: str | None) -> dict[str, Any]:
    """The checkpoint's config.json as a plain dict (reading it needs no config class, so no remote code), or a
    clear error for a missing folder or file."""
    from transformers.utils import cached_file

    path = os.path.expanduser(pretrained)
    if not os.path.isdir(path) and (os.path.isabs(path) or pretrained.startswith(".") or pretrained.count("/") > 1):
        raise FileNotFoundError(f"pretrained={pretrained!r}: no such folder. Give a local model folder "
                                "or a hub id such as GSAI-ML/LLaDA-8B-Instruct.")
    if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "config.json")):
        raise FileNotFoundError(f"pretrained={pretrained!r} has no config.json: copy the config.json of the hub repo "
                                "the weights came from into this folder.")
    try:
        with open(cached_file(pretrained, "config.json", revision=revision), encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as err:
        raise FileNotFoundError(
            f"pretrained={pretrained!r} could not be loaded: it is neither a local model folder nor a "
            f"reachable hub model ({err.__class__.__name__}: {str(err).splitlines()[0]})") from err


def _load_auto(spec: Family | None, pretrained: str, revision: str | None, dtype: str, trust_remote_code: bool,
               raw: dict[str, Any], split: dict[str, Any]) -> tuple[torch.nn.Module, Any]:
    """Model and tokenizer through transformers' auto classes (the family's, or the one the config names)."""
    import transformers

    if spec is None and not raw.get("auto_map") and not _transformers_knows_type(raw.get("model_type")):
        _check_can_denoise(types.SimpleNamespace(**raw), pretrained)  # names the model_type and the fix
    config = transformers.AutoConfig.from_pretrained(pretrained, revision=revision,
                                                     trust_remote_code=trust_remote_code)
    auto_class = spec.auto_class if spec is not None else _check_can_denoise(config, pretrained)
    tokenizer = _tokenizer(pretrained, revision, trust_remote_code)
    model = getattr(transformers, auto_class).from_pretrained(
        pretrained, revision=revision, trust_remote_code=trust_remote_code, dtype=DTYPES[dtype], **split)
    return model, tokenizer


def _denoiser(model: torch.nn.Module, tokenizer: Any, spec: Family | None, raw: dict[str, Any], pretrained: str,
              mask_id: int | None, max_length: int | None) -> Denoiser:
    """The loaded module as a :class:`Denoiser`, with its mask, EOS and pad ids and its maximum length."""
    head = model.get_output_embeddings()
    vocab_size = head.weight.shape[0] if head is not None else int(raw["vocab_size"])
    mask = resolve_mask_id(tokenizer, vocab_size, mask_id, spec, pretrained, raw)
    eos_ids = resolve_eos_ids(tokenizer, spec, vocab_size)
    if not eos_ids:
        logger.warning("%s: no EOS token known; answers run to max_gen_toks and stop only at `until`.",
                       pretrained)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos_ids or (0,))[0]
    limit = max_length or raw.get("max_position_embeddings") or raw.get("max_sequence_length") \
        or tokenizer.model_max_length
    return Denoiser(model, tokenizer, mask, eos_ids, int(pad_id), int(limit),
                    family=spec or Family(name=str(raw.get("model_type", "unknown"))))
