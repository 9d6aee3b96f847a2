"""DiffusionGemma (Google): block diffusion decoded by its own ``generate()`` (``strategy=generate``).

Facts (transformers 5.24: ``models/diffusion_gemma/{configuration,modeling,generation}_diffusion_gemma.py``):

- Selected by ``model_type: diffusion_gemma`` / ``architectures: DiffusionGemmaForBlockDiffusion``
  (``AutoModelForImageTextToText``). transformers ships the modules, so there is no remote code.
- ``DiffusionGemmaModel`` pairs an AR **encoder** (a Gemma 4 MoE stack, causal unless
  ``use_bidirectional_attention="all"``), which writes the prompt and every finished canvas into the
  KV cache, with a **decoder** that shares its weights, only *reads* that cache and attends
  bidirectionally over [cache | canvas]. The decoder's input is ``embed(canvas)`` plus a
  self-conditioning MLP of ``softmax(previous step's logits) @ E * sqrt(d)``.
- A block is a **canvas** of ``config.canvas_length`` tokens (a model field; 256 by default) placed
  right after the prompt (positions ``cur .. cur + C - 1``), not aligned to absolute position 0.
- **No mask token.** A canvas starts as uniformly random tokens. Each step the logits (unshifted:
  ``logits[:, j]`` predicts canvas position j; soft-capped ``30 tanh(x / 30)`` in float32) are divided
  by a linear temperature schedule (``t_max`` at the first step down to ``t_min``), one token per
  position is drawn (multinomial), and ``EntropyBoundSampler`` accepts the lowest-entropy positions
  with ``sum(H) - max(H) <= entropy_bound`` (the rule of our ``eb`` strategy). Every other position is
  re-noised with a fresh random token, and acceptance is decided afresh at every step.
- A canvas ends after ``max_denoising_steps`` steps, or earlier once its argmax was unchanged for
  ``stability_threshold`` steps and the mean entropy is below ``confidence_threshold``. Its tokens
  are the last step's **argmax** (not the sampled canvas). ``generate`` runs ceil(max_new_tokens / C)
  canvases, so ``sequences`` is **not cut to max_new_tokens**; once a canvas holds an EOS, the rest
  of the row becomes pad and generation stops.
- Streamers: ``put(prompt)``, then ``put_draft(value=argmax canvas (B, C))`` after every denoising
  step (one decoder forward), ``put(canvas)`` after each canvas, ``end()``.
- Ids: Gemma 4's end-of-generation tokens ``<eos>`` 1, ``<turn|>`` 106 (end of turn) and
  ``<|tool_response>`` 50 (transformers' GGUF loader: "Gemma4 needs all three EOG tokens to match
  generation_config.json"); ``<pad>`` 0, ``<bos>`` 2 (``DiffusionGemmaTextConfig`` defaults).
- Random draws (``randint`` for noise, ``multinomial`` for samples) are taken over the whole batch at
  once, so a row's output depends on which rows share its batch.

How we run it: ``strategy=generate`` calls the model's own ``generate()`` **one row at a time**,
with torch's RNG seeded from the row's key (seed, prompt; :func:`~lm_eval_mdlm.decoding.noise.row_keys`)
inside ``fork_rng``: a row's output is then the same at every batch size and in every order, which a
batched call cannot give (shared draws). A :class:`DraftRecorder` streamer receives every draft; a
token's finalization step is the row's forward count at the last step where its draft changed, NFE
is the number of drafts (= generate's own count of decoder forwards), and ``revised_tokens`` counts
draft changes after a position's first draft. The answer is cut to the request's ``max_gen_toks``;
stop sequences are applied by ``MDLM._finish``.

Why the engine's strategies do not apply: see ``_NO_ENGINE`` (and docs/families.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from lm_eval_mdlm.config import ConfigError, DecodeConfig
from lm_eval_mdlm.decoding.decoder import Decoder, EngineDecoder
from lm_eval_mdlm.decoding.loop import DecodeOutput
from lm_eval_mdlm.decoding.noise import mix64
from lm_eval_mdlm.decoding.schedule import Schedule
from lm_eval_mdlm.families.spec import DTYPES, Family
from lm_eval_mdlm.families.tokens import resolve_eos_ids

_NO_ENGINE = (
    "DiffusionGemma has no mask token (it was trained to denoise canvases of uniformly random tokens), and "
    "its forward is not one pass over a [prompt | answer] canvas: an encoder turns the prompt and the "
    "finished canvases into a KV cache, and a decoder denoises one canvas of canvas_length tokens from "
    "that cache while conditioning on its own previous logits. The engine's strategies need a forward over "
    "a masked canvas, so decode with strategy=generate (the model's own sampler)")

_HONOURED = ("strategy", "steps", "temperature", "seed", "max_gen_toks", "entropy_bound", "block_length")
"""DecodeConfig fields that strategy=generate maps onto ``generate()``; any other field must keep its default."""

_DEFAULTS = DecodeConfig()


class DraftRecorder:
    """A streamer for ``generate()`` that keeps every step's draft, grouped by canvas.

    ``generate`` calls ``put`` with the prompt, ``put_draft(value=...)`` after each denoising step and
    ``put`` again after each finished canvas; the drafts since the previous ``put`` are that canvas's.
    It takes the argmax drafts (``_takes_logits`` False): logits would cost C x V floats per step.
    """

    _takes_logits = False

    def __init__(self) -> None:
        self.canvases: list[torch.Tensor] = []
        """Per finished canvas, its drafts as (steps, C)."""
        self._drafts: list[torch.Tensor] = []

    def put(self, value: torch.Tensor) -> None:
        if self._drafts:
            self.canvases.append(torch.stack(self._drafts))
            self._drafts = []

    def put_draft(self, value: torch.Tensor, **kwargs: Any) -> None:
        if value.dim() != 2 or value.shape[0] != 1:
            raise ValueError(f"DraftRecorder records one row at a time; got drafts of shape {tuple(value.shape)}.")
        self._drafts.append(value[0].clone())

    def end(self) -> None:
        if self._drafts:
            raise RuntimeError("generate() ended without emitting its last canvas (put); its drafts cannot be "
                               "matched to output tokens.")


def row_seed(key: int, seed: int) -> int:
    """The torch seed of a row: its key (prompt, model-level seed) and the request's ``seed`` hashed down
    to 32 bits, because torch's CPU generator (mt19937) keeps only the low 32 bits of a seed and the
    key's seed part is its high half. ``seed`` enters too, so ``--gen_kwargs seed=...`` counts."""
    mixed = int(mix64(torch.tensor(key, dtype=torch.long) ^ mix64(torch.tensor(seed, dtype=torch.long))))
    return (mixed ^ (mixed >> 32)) & 0xFFFF_FFFF


def trace_from_drafts(canvases: Sequence[torch.Tensor], emitted: torch.Tensor, length: int,
                      eos_ids: Sequence[int], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """(answer (G,), finalized_at (G,), nfe, revised) of one row from its drafts and ``generate``'s tokens.

    The first draft of a canvas counts as a change (it replaces noise); a token's finalization step
    is ``forwards before its canvas + the step of its last change``. Positions after the answer's
    first EOS hold pad and step 0 (never committed), as in the engine's traces.
    """
    steps, changes, finals, offset = [], [], [], 0
    for drafts in canvases:
        changed = torch.ones_like(drafts, dtype=torch.bool)
        changed[1:] = drafts[1:] != drafts[:-1]
        step = torch.arange(1, drafts.shape[0] + 1)[:, None].expand_as(drafts)
        steps.append(offset + torch.where(changed, step, 0).max(0).values)
        changes.append(changed[1:].sum(0))
        finals.append(drafts[-1])
        offset += drafts.shape[0]
    answer = torch.full((length,), pad_id, dtype=torch.long)
    emitted = emitted[:length].cpu()
    answer[:len(emitted)] = emitted
    is_eos = torch.isin(answer, torch.tensor(list(eos_ids), dtype=torch.long))
    n = int(is_eos.long().argmax()) + 1 if is_eos.any() else length
    drafted = torch.cat(finals)[:n]
    if len(drafted) < n or not torch.equal(drafted, answer[:n]):
        raise RuntimeError("DiffusionGemma's generate() emitted tokens that differ from its last drafts; the "
                           "streamer protocol of this transformers version differs from the one this adapter "
                           "reads (put_draft(value=argmax canvas) after every step), so no trace can be built.")
    finalized = torch.zeros(length, dtype=torch.long)
    finalized[:n] = torch.cat(steps)[:n]
    return answer, finalized, offset, int(torch.cat(changes)[:n].sum())


class DiffusionGemmaDecoder(Decoder):
    """A DiffusionGemma checkpoint behind ``--model mdlm``: decoded by its own ``generate()`` (:meth:`decode`).

    It has no masked-canvas forward, so it is not an engine-decoded model: likelihood requests are refused
    (:meth:`likelihood_forward`) and ``batch_size=auto`` probes nothing (rows are decoded one at a time).
    ``mask_id`` is None (there is no mask token). ``max_length`` keeps one canvas of room below the position
    limit: ``generate`` rounds every answer up to whole canvases and we prepend ``<bos>``.
    """

    family = "diffusion_gemma"
    strategies = ("generate",)
    default_strategy = "generate"

    def __init__(self, model: torch.nn.Module, tokenizer: Any, eos_ids: tuple[int, ...], pad_id: int,
                 max_length: int) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.mask_id = None  # no mask token
        self.eos_ids = eos_ids
        self.pad_id = pad_id
        self.max_length = max_length
        self.spec = DIFFUSION_GEMMA
        self.canvas_length = int(model.config.canvas_length)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def check_cache(self, mode: str) -> None:
        """``generate`` always keeps an exact KV cache of its own: only ``cache=none`` is accepted."""
        if mode != "none":
            raise ConfigError(
                f"cache={mode} cannot be used with family=diffusion_gemma: its generate() already keeps an exact "
                "KV cache (the encoder writes the prompt and each finished canvas once; the decoder only reads "
                "it). Drop cache (or set cache=none).")

    def likelihood_forward(self) -> EngineDecoder:
        """Refused: our estimators are masked-diffusion ones."""
        raise ConfigError(
            "loglikelihood requests cannot be scored with family=diffusion_gemma: the likelihood estimators "
            "(likelihood=elbo|chain) mask tokens and read a masked-canvas forward, and DiffusionGemma has no mask "
            "token (it denoises uniformly random tokens). Run generation tasks (generate_until) with "
            "strategy=generate.")

    def decode_config(self, config: DecodeConfig) -> DecodeConfig:
        """``config`` as ``generate()`` runs it: other strategies and knobs without an equivalent are
        refused, and ``block_length`` becomes the checkpoint's ``canvas_length``."""
        self.spec.check_strategy(config.strategy)
        foreign = [f"{f.name}={getattr(config, f.name)!r}" for f in dataclasses.fields(config)
                   if f.name not in _HONOURED and getattr(config, f.name) != getattr(_DEFAULTS, f.name)]
        if foreign:
            raise ConfigError(
                f"strategy=generate runs DiffusionGemma's own sampler, which has no equivalent for "
                f"{', '.join(foreign)}: its entropy-bound sampler decides what to accept at each step. It honours "
                "steps (max_denoising_steps per canvas), entropy_bound, temperature, seed, max_gen_toks and "
                f"block_length={self.canvas_length} (the canvas); drop the others.")
        if config.block_length not in (None, self.canvas_length):
            raise ConfigError(
                f"block_length={config.block_length} cannot be used with family=diffusion_gemma: its blocks are "
                f"canvases of canvas_length={self.canvas_length} tokens, fixed by the checkpoint's config.json. "
                f"Drop block_length (or set it to {self.canvas_length}).")
        if not config.entropy_bound > 0.0:
            raise ConfigError(f"entropy_bound={config.entropy_bound!r} is invalid with strategy=generate: "
                              "DiffusionGemma's EntropyBoundSampler needs entropy_bound > 0 (e.g. 0.1).")
        return config.replace(block_length=self.canvas_length)

    def generate_kwargs(self, config: DecodeConfig, length: int) -> dict[str, Any]:
        """Our knobs as ``generate()`` arguments; knobs left at their defaults leave the checkpoint's
        ``generation_config.json`` in charge (``steps`` None, ``entropy_bound`` 0.1, ``temperature`` 0).

        - ``steps`` -> ``max_denoising_steps`` (the cap per canvas; a canvas may stop earlier).
        - ``entropy_bound`` -> ``sampler_config.entropy_bound`` (the same rule as our ``eb``).
        - ``temperature`` > 0 -> that constant temperature instead of the linear ``t_max``→``t_min``
          schedule; 0 keeps the schedule (DiffusionGemma always samples: there is no greedy mode).
        - ``max_gen_toks`` -> ``max_new_tokens``; ``max_length`` is cleared because ``generate`` prefers a
          configured ``max_length`` whenever ``max_new_tokens`` equals its default 256.
        """
        from transformers import EntropyBoundSamplerConfig, LogitsProcessorList, TemperatureLogitsWarper

        kwargs: dict[str, Any] = {"max_new_tokens": length, "max_length": None, "return_dict_in_generate": True,
                                  "eos_token_id": list(self.eos_ids) or None, "pad_token_id": self.pad_id}
        if config.steps is not None:
            kwargs["max_denoising_steps"] = int(config.steps)
        if config.entropy_bound != _DEFAULTS.entropy_bound:
            kwargs["sampler_config"] = EntropyBoundSamplerConfig(entropy_bound=float(config.entropy_bound))
        if config.temperature > 0:
            kwargs.update(t_min=None, t_max=None,
                          logits_processor=LogitsProcessorList([TemperatureLogitsWarper(float(config.temperature))]))
        return kwargs

    @torch.inference_mode()
    def decode(self, prompts: Sequence[Sequence[int]], config: DecodeConfig, schedule: Schedule, *,
               keys: Sequence[int]) -> DecodeOutput:
        """Decode each prompt with ``generate()``, one row at a time (see the module docstring)."""
        rows = [self._sample_row(list(prompt), key, config, schedule.length) for prompt, key in zip(prompts, keys)]
        answer, finalized, nfe, revised = zip(*rows)
        return DecodeOutput(answer=torch.stack(answer), finalized_at=torch.stack(finalized),
                            nfe=torch.tensor(nfe), revised=torch.tensor(revised))

    def _sample_row(self, prompt: list[int], key: int, config: DecodeConfig,
                    length: int) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        bos = self.tokenizer.bos_token_id
        if bos is not None and prompt[:1] != [bos]:
            prompt = [bos] + prompt  # Gemma expects <bos> (lm-eval's HFLM adds it for Gemma too)
        ids = torch.tensor([prompt], device=self.device)
        recorder = DraftRecorder()
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(row_seed(key, config.seed))  # the row's own stream: batch- and order-free
            out = self.model.generate(ids, streamer=recorder, **self.generate_kwargs(config, length))
        return trace_from_drafts(recorder.canvases, out.sequences[0, len(prompt):], length, self.eos_ids, self.pad_id)


def load(pretrained: str, *, revision: str | None, dtype: str, device: str | torch.device, remote: bool,
         mask_id: int | None, max_length: int | None, split: dict[str, Any]) -> DiffusionGemmaDecoder:
    """Load a checkpoint with transformers' own ``DiffusionGemmaForBlockDiffusion`` and its tokenizer."""
    import transformers

    if remote:
        raise ValueError("family=diffusion_gemma:remote: transformers ships DiffusionGemma's modules, so there is "
                         "no checkpoint code to run; drop ':remote'.")
    if mask_id is not None:
        raise ValueError(f"mask_id={mask_id} cannot be set for family=diffusion_gemma: it has no mask token (its "
                         "canvases start as uniformly random tokens); drop mask_id.")
    model = transformers.DiffusionGemmaForBlockDiffusion.from_pretrained(
        pretrained, revision=revision, dtype=DTYPES[dtype], **split)
    if not split:  # a device_map places the layers itself
        model.to(device)
    model.eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(pretrained, revision=revision)
    text = model.config.text_config
    eos_ids = resolve_eos_ids(tokenizer, DIFFUSION_GEMMA, int(text.vocab_size))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else text.pad_token_id
    limit = max_length or int(text.max_position_embeddings) - int(model.config.canvas_length)
    return DiffusionGemmaDecoder(model, tokenizer, eos_ids, int(pad_id), int(limit))


DIFFUSION_GEMMA = Family(
    name="diffusion_gemma", model_types=("diffusion_gemma",), architectures=("DiffusionGemmaForBlockDiffusion",),
    eos_tokens=(("<eos>", 1), ("<turn|>", 106), ("<|tool_response>", 50)),
    auto_class="AutoModelForImageTextToText", strategies=("generate",), strategy_note=_NO_ENGINE, load=load)
"""DiffusionGemma: decoded by its own ``generate()`` only (``strategy=generate``, the family's default)."""
