"""Loading known architectures into transformers' own modules, without the checkpoint's remote code.

Why: most MDLM repositories ship a ``modeling_*.py`` written for transformers 4.x that no longer
imports under 5.x. When a family is a known architecture with different parameter names (LLaDA is a
Llama, Dream a Qwen2), we read its safetensors, rename the weights and run transformers' module with
a full (non-causal) attention mask. The families' own modules stay reachable with
``family=<name>:remote,trust_remote_code=True``.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import torch

Rename = Callable[[str], str]


def checkpoint_folder(pretrained: str, revision: str | None) -> str:
    """A local folder holding the checkpoint: the path itself, or a hub snapshot (downloaded once)."""
    path = os.path.expanduser(pretrained)
    if os.path.isdir(path):
        return path
    from huggingface_hub import snapshot_download

    return snapshot_download(pretrained, revision=revision,
                             allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"])


def read_config(folder: str) -> dict[str, Any]:
    """``config.json`` as a plain dict: no config class (and so no remote code) is needed to read it."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
        return json.load(handle)


def read_state_dict(folder: str) -> dict[str, torch.Tensor]:
    """Every tensor of the checkpoint's safetensors files (single file or shards)."""
    from safetensors.torch import load_file

    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.isfile(index):  # sharded: every shard the index names must be there
        with open(index, encoding="utf-8") as handle:
            shards = sorted(set(json.load(handle).get("weight_map", {}).values()))
        missing = [f for f in shards if not os.path.isfile(os.path.join(folder, f))]
        if missing:
            raise FileNotFoundError(
                f"{folder}: model.safetensors.index.json names {len(shards)} weight shards, but "
                f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''} is missing. Download the missing "
                "shard(s) into the folder.")
    if not files:
        raise FileNotFoundError(
            f"{folder} has no *.safetensors weights; native loading reads safetensors only. Convert the "
            "checkpoint, or load it with its own code: family=<name>:remote,trust_remote_code=True.")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_file(file))
    return state


def torch_dtype(dtype: str | torch.dtype, config: Mapping[str, Any]) -> torch.dtype:
    """``auto`` means the dtype the checkpoint was saved in (``torch_dtype``/``dtype``), else float32."""
    if dtype != "auto":
        return dtype  # type: ignore[return-value]
    name = config.get("torch_dtype") or config.get("dtype") or "float32"
    return getattr(torch, str(name).replace("torch.", ""), torch.float32)


def load_renamed(model_class: type, hf_config: Any, state: Mapping[str, torch.Tensor], rename: Rename,
                 dtype: torch.dtype, name: str) -> torch.nn.Module:
    """Build ``model_class(hf_config)`` without allocating, fill it with renamed weights, make it
    bidirectional, and check that every parameter was provided and every checkpoint tensor used."""
    with torch.device("meta"):
        model = model_class(hf_config)
    renamed = {rename(key): value for key, value in state.items()}
    expected = set(model.state_dict())
    if "lm_head.weight" in expected and "lm_head.weight" not in renamed \
            and getattr(hf_config, "tie_word_embeddings", False):
        renamed["lm_head.weight"] = renamed.get("model.embed_tokens.weight")
    missing, unused = sorted(expected - set(renamed)), sorted(set(renamed) - expected)
    if missing or unused:
        raise ValueError(
            f"{name}: the checkpoint's weight names do not match the {name} layout (missing: "
            f"{missing[:4]}{' ...' if len(missing) > 4 else ''}; unused: {unused[:4]}"
            f"{' ...' if len(unused) > 4 else ''}). If this is a variant of the family, load it with its "
            "own code: family=<name>:remote,trust_remote_code=True.")
    model.load_state_dict({k: v.to(dtype) for k, v in renamed.items()}, strict=True, assign=True)
    # Rotary frequencies are non-persistent buffers: not in the checkpoint, still on `meta`.
    model.model.rotary_emb = type(model.model.rotary_emb)(config=hf_config)
    for layer in model.model.layers:
        # transformers' decoder layers are causal by default; a diffusion LM attends both ways. The
        # 4-D mask we pass already allows both directions; this flag keeps SDPA from adding a causal
        # triangle if a caller ever passes no mask.
        layer.self_attn.is_causal = False
    return model.eval()


def require(config: Mapping[str, Any], family: str, field: str, allowed: tuple[Any, ...]) -> None:
    """Refuse a config value the native module cannot reproduce, naming the fix."""
    value = config.get(field, allowed[0])
    if value not in allowed:
        raise ValueError(
            f"{family}: config {field}={value!r} is not supported by native loading (supported: "
            f"{', '.join(map(repr, allowed))}). Load this checkpoint with its own code instead: "
            f"family={family}:remote,trust_remote_code=True.")


AUTO_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")


def dispatch(model: torch.nn.Module, device_map: str | dict[str, Any], max_memory: dict | None,
             offload_folder: str | None, family: str) -> torch.nn.Module:
    """Place a natively loaded model's layers with accelerate, as ``from_pretrained(device_map=...)`` does for
    transformers' checkpoints: a string map is computed from ``max_memory`` (``auto``/``balanced`` spread the
    layers evenly over the GPUs, ``sequential`` fills them in order), never splitting a decoder layer."""
    from accelerate import dispatch_model, infer_auto_device_map
    from accelerate.utils import get_balanced_memory

    if isinstance(device_map, str):
        if device_map not in AUTO_MAPS:
            raise ValueError(f"{family}: device_map={device_map!r} is not a placement accelerate knows; valid: "
                             f"{', '.join(AUTO_MAPS)}, or a dict of module name -> device (e.g. {{'': 'cuda:0'}}).")
        no_split = list(getattr(model, "_no_split_modules", None) or [])
        if device_map != "sequential":
            max_memory = get_balanced_memory(model, max_memory=max_memory, no_split_module_classes=no_split,
                                             low_zero=device_map == "balanced_low_0")
        device_map = infer_auto_device_map(model, max_memory=max_memory, no_split_module_classes=no_split)
    return dispatch_model(model, device_map=device_map, offload_dir=offload_folder)
