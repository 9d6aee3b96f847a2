"""Checks ``--model mdlm`` runs before any forward: integer model arguments, the checkpoint's files, ids that
collide, output paths and a request cache written under another configuration.

Why a module of its own: each of these failed late or obscurely before (a TypeError on ``None`` for an
empty folder, a KeyError for the wrong family, no results after all generation for a trace path that is a
directory, a cache serving one strategy's answers to another). Each check raises a
:class:`~lm_eval_mdlm.config.ConfigError` that names the file or value, what is allowed and the fix.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from lm_eval_mdlm.config import ConfigError, int_arg
from lm_eval_mdlm.decoding.decoder import Decoder
from lm_eval_mdlm.families import load_denoiser

CACHE_KEY = "lm_eval_mdlm:config"
"""The entry of lm-eval's ``--use_cache`` database that records which configuration filled it (the
database's own keys are sha256 hex digests, so this one cannot collide with a request's)."""


def check_checkpoint_files(pretrained: str) -> None:
    """A local checkpoint folder has a readable ``config.json`` and readable safetensors headers.

    Hub ids and oracles pass untouched (their files are fetched and checked by the loader).
    """
    folder = os.path.expanduser(pretrained)
    if not os.path.isdir(folder):
        return
    config = os.path.join(folder, "config.json")
    if not os.path.isfile(config):
        raise ConfigError(f"pretrained={pretrained!r} has no config.json: a model folder holds config.json, the "
                          "weights (*.safetensors) and the tokenizer files, as save_pretrained() writes them.")
    try:
        with open(config, encoding="utf-8") as handle:
            json.load(handle)
    except (ValueError, UnicodeDecodeError) as err:
        raise ConfigError(f"{config} is not valid JSON ({err}); restore the file from the checkpoint.") from None
    from safetensors import safe_open

    for file in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        try:
            with safe_open(file, framework="pt") as handle:
                handle.keys()
        except Exception as err:  # safetensors raises its own error types for every kind of damage
            raise ConfigError(f"{file} is not a readable safetensors file ({type(err).__name__}: {err}); "
                              "re-download or re-save the checkpoint.") from None


def check_ids(mask_id: int | None, pad_id: int, eos_ids: Sequence[int]) -> None:
    """The mask token must differ from EOS and padding.

    Why: the loop stops a row at its first EOS and treats mask positions as undecided, so mask = EOS
    ends every answer before it starts (empty answers); left padding with the mask id would be read as
    undecided canvas by likelihood scoring.
    """
    if mask_id is None:  # a model with its own sampler and no mask token (DiffusionGemma)
        return
    if mask_id in eos_ids:
        raise ConfigError(f"mask_id={mask_id} is also an end-of-sequence id (eos ids: {list(eos_ids)}): every "
                          "answer would end before it starts. Pass the id of the model's mask token.")
    if mask_id == pad_id:
        raise ConfigError(f"mask_id={mask_id} is also the padding id: padded prompts would read as masked "
                          "positions. Pass the id of the model's mask token.")


def check_max_length(max_length: int | None, model: Any) -> None:
    """``max_length`` may not exceed the positions the model has (an index error at the first forward)."""
    positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if max_length is not None and isinstance(positions, int) and max_length > positions:
        raise ConfigError(f"max_length={max_length} exceeds the model's {positions} positions "
                          f"(max_position_embeddings); use max_length <= {positions}, or leave it out.")


def check_output_file(name: str, path: str | None) -> None:
    """An output file can be written: not a directory, its folder creatable and writable (checked at load,
    so a bad path fails before any generation rather than after all of it)."""
    if not path:
        return
    if os.path.isdir(path):
        raise ConfigError(f"{name}={path!r} is a directory; give a file path, e.g. {name}={path.rstrip('/')}"
                          "/traces.jsonl.")
    folder = os.path.dirname(os.path.abspath(path))
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise ConfigError(f"{name}={path!r} cannot be written: {existing} is not a writable folder; choose "
                          "another path.")


def check_cache_config(dbdict: Any, config: Mapping[str, Any]) -> None:
    """Record ``config`` in an lm-eval request cache, or refuse a cache that another configuration filled.

    lm-eval's cache key is the request alone (prompt and gen_kwargs), not ``--model_args``: without this a
    ``strategy=threshold`` run would be served a ``strategy=topk`` run's answers from the same database.
    """
    if dbdict is None:
        return
    stored = dbdict.get(CACHE_KEY)
    if stored is None:
        dbdict[CACHE_KEY] = dict(config)
        dbdict.commit()
        return
    if dict(stored) != dict(config):
        changed = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
        detail = ", ".join(f"{k}: cached {stored.get(k)!r}, now {config.get(k)!r}" for k in changed)
        raise ConfigError(f"--use_cache {getattr(dbdict, 'filename', '')} holds answers of another configuration "
                          f"({detail}); give this configuration its own --use_cache path, or delete that file.")


_INT_ARGS = {  # name: (minimum, what it is / how to fix it)
    "mask_id": (0, "it is the id of the token the model was trained to denoise, e.g. mask_id=126336"),
    "max_length": (2, "it is the prompt + answer limit in tokens; leave it out for the model's own maximum"),
    "max_batch_size": (1, "it caps batch_size=auto, e.g. max_batch_size=64"),
    "threads": (1, "it is the number of CPU threads for torch, e.g. threads=4; leave it out for half the cores"),
    "mc_num": (1, "it is the number of Monte-Carlo samples of the ELBO, e.g. mc_num=128"),
    "likelihood_batch_size": (1, "it is the number of rows per likelihood forward, e.g. likelihood_batch_size=32"),
}


def int_args(**values: Any) -> dict[str, int | None]:
    """The integer model arguments, validated (None where not given)."""
    return {name: int_arg(name, value, *_INT_ARGS[name]) for name, value in values.items()}


def load_checked(pretrained: str, family: str | None, **kwargs: Any) -> Decoder:
    """``load_denoiser`` after checking the checkpoint's files; a ``family=`` whose weights do not match the
    checkpoint's is named (it surfaced as a KeyError on a parameter name)."""
    check_checkpoint_files(pretrained)
    try:
        return load_denoiser(pretrained, family=family, **kwargs)
    except (KeyError, AttributeError) as err:
        if family is None:
            raise
        raise ConfigError(f"family={family} cannot load pretrained={pretrained!r}: the checkpoint's weights or "
                          f"config do not match that family ({type(err).__name__}: {err}). Leave family out to "
                          "use the family detected from config.json.") from None
