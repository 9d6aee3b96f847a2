"""``--model mdlm``: lm-eval glue around the denoising engine.

This layer only translates: lm-eval requests and ``--model_args`` / ``--gen_kwargs`` into token
batches and a :class:`~lm_eval_mdlm.config.DecodeConfig`, and the engine's output back into strings
(cut at ``until``) plus decoding traces (see :mod:`lm_eval_mdlm.traces`).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import asdict, replace
from typing import Any

import jinja2
import lm_eval.models  # noqa: F401  (fills lm-eval's registry with the built-ins before we add ours)
import torch
from lm_eval.api.instance import Instance
from lm_eval.api.model import TemplateLM
from tqdm import tqdm

from lm_eval_mdlm import likelihood as likelihood_estimators
from lm_eval_mdlm import preflight, presets, traces
from lm_eval_mdlm.distributed import Distributed, answer_real_requests, default_threads, model_parallel_kwargs
from lm_eval_mdlm.config import (
    ConfigError,
    DecodeConfig,
    batch_size_arg,
    bool_arg,
    coerce,
    config_warnings,
    split_gen_kwargs,
)
from lm_eval_mdlm.decoding.decoder import Decoder, EngineDecoder
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.default_model import default_checkpoint
from lm_eval_mdlm.metrics.decoding import trace_metrics

logger = logging.getLogger(__name__)


class MDLM(TemplateLM):
    """Batched masked-diffusion generation for lm-eval; see the README for every model argument."""

    _behind_cache = False  # wrapped by lm-eval's CachingLM (--use_cache): adopt_cached shares the traces

    def __init__(self, pretrained: str | None = None, revision: str | None = None, dtype: str = "auto",
                 device: str | None = None, trust_remote_code: bool | str = False,
                 mask_id: int | str | None = None, batch_size: int | str = 1,
                 max_batch_size: int | str = 64, max_length: int | str | None = None,
                 threads: int | str | None = None, add_bos_token: bool | str = False,
                 trace_path: str | None = None, likelihood: str = "elbo", mc_num: int | str = 128,
                 order: str = "l2r", elbo_variant: str = "llada", likelihood_batch_size: int | str | None = None,
                 parallelize: bool | str = False, device_map: str | None = None,
                 max_memory_per_gpu: int | str | None = None, max_cpu_memory: int | str | None = None,
                 offload_folder: str | None = "./offload", family: str | None = None, preset: str | None = None,
                 **decode_args: Any) -> None:
        super().__init__()
        ints = preflight.int_args(mask_id=mask_id, max_length=max_length, max_batch_size=max_batch_size,
                                  threads=threads, mc_num=mc_num, likelihood_batch_size=likelihood_batch_size)
        flags = {name: bool_arg(name, value) for name, value in (
            ("trust_remote_code", trust_remote_code), ("add_bos_token", add_bos_token), ("parallelize", parallelize))}
        batch_size = batch_size_arg(batch_size)
        preflight.check_output_file("trace_path", trace_path)
        self.config = DecodeConfig(**coerce(decode_args))
        if pretrained is None:  # the small model this project trains and ships: runs offline
            pretrained = default_checkpoint()
        # Under `accelerate launch`: this process's rank, the world size and its own device.
        self.dist = Distributed(torch.device(_usable_device(device)))
        self._rank, self._world_size, self._device = self.dist.rank, self.dist.world_size, self.dist.device
        if self.dist.accelerator is not None:
            self.accelerator = self.dist.accelerator  # lm-eval <= 0.4.11 gathers through it
        if self._device.type == "cpu":
            torch.set_num_threads(ints["threads"] or default_threads())
        presets.check(preset, coerce(decode_args))  # a bad preset or knob fails before the model loads
        load_kwargs = model_parallel_kwargs(
            flags["parallelize"], device_map, max_memory_per_gpu, max_cpu_memory, offload_folder,
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
            local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        self.denoiser: Decoder = preflight.load_checked(
            str(pretrained), revision=revision, dtype=dtype, device=self._device,
            trust_remote_code=flags["trust_remote_code"], mask_id=ints["mask_id"], max_length=ints["max_length"],
            family=None if family in (None, "None", "") else str(family), **load_kwargs)
        preflight.check_ids(self.denoiser.mask_id, self.denoiser.pad_id, self.denoiser.eos_ids)
        preflight.check_max_length(ints["max_length"], self.denoiser.model)
        self.config = self._initial_config(preset, str(pretrained), decode_args)
        if load_kwargs:  # a split model takes its inputs where its embeddings live
            self._device = self.denoiser.device
        self.tokenizer = self.denoiser.tokenizer
        self.pretrained = str(pretrained)
        self.add_bos_token = flags["add_bos_token"]
        self.batch_size_arg = batch_size
        self.max_batch_size = ints["max_batch_size"] or 64
        self._checked_configs: set[tuple[DecodeConfig, bool | None]] = set()  # warned once (ignored knobs)
        self.trace_path = trace_path
        self.traces: list[dict[str, Any]] = []
        """This model's trace records, in the order requests were answered (lm-eval's tracker writes them)."""
        # Rows (request x mask pattern) per likelihood forward; see lm_eval_mdlm/likelihood.py. With
        # batch_size=auto the size is probed on the first likelihood request, not here: generation-only
        # runs never pay for that probe.
        given_rows = ints["likelihood_batch_size"] is not None
        self._probe_likelihood_rows = not given_rows and self.batch_size_arg.startswith("auto")
        self.likelihood_config = likelihood_estimators.LikelihoodConfig.from_args(
            likelihood, ints["mc_num"] or 128, order, elbo_variant,
            ints["likelihood_batch_size"] if given_rows else (1 if self._probe_likelihood_rows else batch_size),
            self.config.seed)

    def _initial_config(self, preset: str | None, pretrained: str, decode_args: dict[str, Any]) -> DecodeConfig:
        """The run's decoding config: explicit arguments over the preset's (docs/presets.md), the model's own
        strategy when none is given (DiffusionGemma's generate), as the model decodes it."""
        merged, self.preset = presets.apply(presets.pick(preset, self.denoiser.family, pretrained), coerce(decode_args))
        config = DecodeConfig(**merged)
        if "strategy" not in decode_args and self.denoiser.default_strategy is not None:
            config = config.replace(strategy=self.denoiser.default_strategy)
        return self._decode_config(config)

    # ------------------------------------------------------------------ lm-eval plumbing
    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None) -> MDLM:
        from lm_eval.utils import simple_parse_args_string

        return cls.create_from_arg_obj(simple_parse_args_string(arg_string), additional_config)

    @classmethod
    def create_from_arg_obj(cls, arg_dict: dict[str, Any], additional_config: dict | None = None) -> MDLM:
        """As lm-eval's, but ``batch_size``/``device``/``max_batch_size`` in ``--model_args`` win over the CLI
        flags of the same name (lm-eval passes both, a duplicate-keyword TypeError); a differing flag is
        named in a warning."""
        extra = {k: v for k, v in (additional_config or {}).items() if v is not None}
        for key in sorted(set(extra) & set(arg_dict)):
            if str(extra[key]) != str(arg_dict[key]):
                logger.warning("%s=%s in --model_args overrides lm-eval's --%s %s", key, arg_dict[key], key,
                               extra.pop(key))
            extra.pop(key, None)
        return cls(**arg_dict, **extra)

    def set_cache_hook(self, cache_hook: Any) -> None:
        """lm-eval's ``--use_cache`` attaches here: refuse a database another configuration filled."""
        super().set_cache_hook(cache_hook)
        identity = {"pretrained": self.pretrained, "family": self.denoiser.family, "mask_id": self.denoiser.mask_id,
                    "max_length": self.max_length, "add_bos_token": self.add_bos_token,
                    "decode_config": asdict(self.config),
                    "likelihood": {k: v for k, v in asdict(self.likelihood_config).items() if k != "batch_size"}}
        preflight.check_cache_config(getattr(cache_hook, "dbdict", None), identity)
        from lm_eval.api.model import CachingLM  # patched by our start-up hook to call adopt_cached

        self._behind_cache = getattr(cache_hook, "dbdict", None) is not None and \
            getattr(CachingLM.__getattr__, "_lm_eval_mdlm", False)

    def adopt_cached(self, results: list[Any]) -> None:
        """Share the traces of every answer of a ``--use_cache`` call, computed or served from the cache (those
        never reach ``generate_until``); the hook around lm-eval's CachingLM calls this on every rank, also
        where all answers were cached and ``generate_until`` is not called (so gathering there could hang)."""
        call = list({id(t): t for t in map(traces.trace_of, results) if t is not None}.values())
        self._share_traces(call)

    def _share_traces(self, records: list[dict[str, Any]]) -> None:
        """Move one call's trace records to the end of the trace lists, in a sharded run all ranks' records on
        rank 0 (a collective), and write ``trace_path``."""
        mine = {id(r) for r in records}
        self.traces[:] = [r for r in self.traces if id(r) not in mine]
        merged = self.dist.gather_records(records)  # rank 0 holds all: get_model_info() and files run there
        self.traces.extend(merged)
        if self.trace_path and self.rank == 0:
            traces.write_jsonl(self.traces, self.trace_path)

    @property
    def eot_token_id(self) -> int:
        return self.denoiser.eos_ids[0] if self.denoiser.eos_ids else self.denoiser.pad_id

    @property
    def max_length(self) -> int:
        return self.denoiser.max_length

    @property
    def tokenizer_name(self) -> str:
        return self.tokenizer.name_or_path.replace("/", "__")

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        ids = self.tokenizer(string, add_special_tokens=False).input_ids
        bos = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None \
            else self.tokenizer.cls_token_id
        if (add_special_tokens or self.add_bos_token) and bos is not None and ids[:1] != [bos]:
            ids = [bos] + ids
        return ids

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """The tokenizer's chat template (as HFLM); retries without system turns if it rejects them."""
        kwargs = {"tokenize": False, "add_generation_prompt": add_generation_prompt,
                  "continue_final_message": not add_generation_prompt}
        try:
            return self.tokenizer.apply_chat_template(chat_history, **kwargs)
        except jinja2.exceptions.TemplateError:
            logger.warning("chat template rejected the system turn; retrying without it")
            history = [m for m in chat_history if m["role"] != "system"]
            return self.tokenizer.apply_chat_template(history, **kwargs)

    # ------------------------------------------------------------------ data parallelism (lm-eval >= 0.4.12)
    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """lm-eval pads uneven shards with these per-rank request counts."""
        return self.dist.all_gather(tensor)

    def gather_object(self, obj: Any, dst: int = 0) -> list[Any] | None:
        """lm-eval gathers logged samples and per-sample metrics to rank 0 with this."""
        return self.dist.gather_object(obj, dst=dst)

    def barrier(self) -> None:
        """lm-eval's barrier after each request type; also removes its padding answers."""
        self.dist.barrier()

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """As TemplateLM's, but lm-eval's padding copies (sharded runs) reuse the original's answer."""
        source = self.dist.split_padding(requests)
        return answer_real_requests(requests, source,
                                    lambda real: super(MDLM, self).loglikelihood(real, disable_tqdm=disable_tqdm))

    def _loglikelihood_tokens(self, requests: Any, disable_tqdm: bool = False,
                              **kwargs: Any) -> list[tuple[float, bool]]:
        return likelihood_estimators.loglikelihood_tokens(self, self._likelihood_forward(), requests,
                                                          disable_tqdm=disable_tqdm)

    def _likelihood_forward(self) -> EngineDecoder:
        """The forward likelihoods are scored with (a clear error for models without one); with batch_size=auto,
        the likelihood batch size is probed once, on first use."""
        forward = self.denoiser.likelihood_forward()
        if self._probe_likelihood_rows:
            self._probe_likelihood_rows = False
            self.likelihood_config = replace(self.likelihood_config, batch_size=self._batch_size(0, self.max_length))
        return forward

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        source = self.dist.split_padding(requests)
        forward = self._likelihood_forward()
        return answer_real_requests(requests, source, lambda real: likelihood_estimators.loglikelihood_rolling(
            self, forward, real, disable_tqdm=disable_tqdm))

    def get_model_info(self) -> dict[str, Any]:
        """Merged by lm-eval into ``results["config"]``: the decoding setup and per-task trace means."""
        return {"mdlm": {"pretrained": self.pretrained, "family": self.denoiser.family,
                         "mask_id": self.denoiser.mask_id, "eos_ids": list(self.denoiser.eos_ids),
                         "decode_config": asdict(self.config), "preset": self.preset, "world_size": self.world_size,
                         "decoding_traces": traces.summarize(self.traces)}}

    # ------------------------------------------------------------------ generation
    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """Answer every request, then share their traces (:meth:`_share_traces`, a collective every rank reaches:
        lm-eval calls this once per evaluation and rank; behind ``--use_cache``, :meth:`adopt_cached` does)."""
        source = self.dist.split_padding(requests)  # lm-eval's padding copies: no compute, no trace
        first = len(self.traces)
        results = answer_real_requests(requests, source, lambda real: self._generate(real, disable_tqdm))
        if not self._behind_cache:
            self._share_traces(self.traces[first:])
        return results

    def _generate(self, requests: list[Instance], disable_tqdm: bool) -> list[traces.TracedStr]:
        """Batches share one decoding config and answer length."""
        jobs = [self._prepare(i, request) for i, request in enumerate(requests)]
        keys = [0] * len(jobs)
        by_seed: dict[int, list[int]] = defaultdict(list)  # gen_kwargs may set a task's own seed
        for i, job in enumerate(jobs):
            by_seed[job["config"].seed].append(i)
        for seed, members in by_seed.items():
            for i, key in zip(members, row_keys([jobs[i]["prompt"] for i in members], seed)):
                keys[i] = key
        groups: dict[tuple[DecodeConfig, int], list[int]] = defaultdict(list)
        for i, job in enumerate(jobs):
            groups[(job["config"], job["length"])].append(i)
        results: list[str | None] = [None] * len(jobs)
        bar = tqdm(total=len(jobs), desc="mdlm generate", disable=disable_tqdm or self.rank != 0)
        committed, forwards = 0, 0
        for (config, length), members in groups.items():
            members.sort(key=lambda i: -len(jobs[i]["prompt"]))  # similar lengths share a batch
            schedule = self.denoiser.schedule(config, length)
            batch_size = self._batch_size(length, len(jobs[members[0]]["prompt"]))
            for start in range(0, len(members), batch_size):
                batch = members[start:start + batch_size]
                prompts, batch_keys = [jobs[i]["prompt"] for i in batch], [keys[i] for i in batch]
                out = self.denoiser.decode(prompts, config, schedule, keys=batch_keys)
                answers, steps, nfe = out.answer.tolist(), out.finalized_at.tolist(), out.nfe.tolist()
                revised, row_forwards = out.revised.tolist(), out.row_forwards.tolist()
                confidence = out.confidence.tolist() if out.confidence is not None else [None] * len(batch)
                for row, i in enumerate(batch):
                    results[i] = self._finish(jobs[i], config, schedule.block_length, answers[row], steps[row],
                                              nfe[row], revised[row], row_forwards[row], confidence[row])
                    self.cache_hook.add_partial("generate_until", requests[i].args, results[i])  # resumable
                    committed += results[i].trace["metrics"]["answer_tokens"]
                    forwards += nfe[row]
                bar.update(len(batch))
                bar.set_postfix(tokens_per_step=f"{committed / max(forwards, 1):.2f}")
        bar.close()
        return results  # type: ignore[return-value]

    def _prepare(self, index: int, request: Instance) -> dict[str, Any]:
        context, gen_kwargs = request.args
        overrides, until, max_gen_toks, do_sample = split_gen_kwargs(gen_kwargs or {})
        config = self.config.replace(**overrides) if overrides else self.config
        # the request's own length (recorded in its trace config too), unless a preset fixes it
        if max_gen_toks is not None and not (self.preset and self.preset["gen_length"]):
            config = config.replace(max_gen_toks=max_gen_toks)
        config = self._decode_config(config)
        self._warn_once(config, do_sample)
        length = config.max_gen_toks
        if length >= self.max_length:
            raise ConfigError(f"max_gen_toks={length} leaves no room for the prompt in the model's "
                             f"maximum length {self.max_length}; lower max_gen_toks.")
        prompt = self.tok_encode(context)
        room = self.max_length - length
        if len(prompt) > room:
            # As HFLM: keep the end of the prompt (the question) and drop the start.
            logger.warning("prompt of %s tokens + %s answer tokens exceeds max_length %s: truncating "
                           "the prompt from the left to %s tokens", len(prompt), length, self.max_length, room)
            prompt = prompt[-room:]
        return {"prompt": prompt, "config": config, "length": length, "until": until,
                "task_name": getattr(request, "task_name", None), "doc_id": getattr(request, "doc_id", None),
                "repeat": getattr(request, "repeats", None), "index": index}

    def _finish(self, job: dict[str, Any], config: DecodeConfig, block_length: int, answer: list[int],
                steps: list[int], nfe: int, revised: int, row_forwards: int,
                confidence: list[float] | None = None) -> traces.TracedStr:
        """Cut the answer at EOS and ``until``, compute its trace metrics and keep the trace record."""
        metrics = trace_metrics(answer, steps, nfe, self.denoiser.eos_ids, block_length, revised, row_forwards)
        n = int(metrics["answer_tokens"])
        kept = answer[:n - 1] if n and answer[n - 1] in self.denoiser.eos_ids else answer[:n]
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        for stop in job["until"]:
            if stop:
                text = text.split(stop)[0]
        record = {"task_name": job["task_name"], "doc_id": job["doc_id"], "request_index": job["index"],
                  "metrics": metrics, "finalization_steps": steps[:n], "nfe": nfe,
                  "row_forwards": row_forwards, "config": asdict(config)}
        if confidence is not None:
            record["commit_confidence"] = traces.compact_confidence(confidence[:n])
        self.traces.append(record)
        return traces.TracedStr(text, record)

    def _warn_once(self, config: DecodeConfig, do_sample: bool | None) -> None:
        """Each of :func:`config_warnings` once per run and configuration (as transformers' GenerationConfig)."""
        key = (config.replace(max_gen_toks=1), do_sample)
        if key not in self._checked_configs:
            self._checked_configs.add(key)
            for message in config_warnings(config, do_sample):
                logger.warning(message)

    def _decode_config(self, config: DecodeConfig) -> DecodeConfig:
        """``config`` as the loaded model decodes it (checked at load and per request, since gen_kwargs may
        change it): the cache mode must be one the model has; its family may refuse the strategy or a knob, or fix
        ``block_length`` (DiffusionGemma's canvas); oracles decode with any engine strategy."""
        self.denoiser.check_cache(config.cache)  # cache=prefix|dual needs a model with a KV cache
        return self.denoiser.decode_config(config)

    def _batch_size(self, length: int, longest_prompt: int) -> int:
        """The fixed batch size, or for ``auto`` the largest that fits, up to max_batch_size (the model probes)."""
        if not self.batch_size_arg.startswith("auto"):
            return max(1, int(self.batch_size_arg))
        return self.denoiser.largest_batch(self.max_batch_size, longest_prompt + length)


def _usable_device(device: str | None) -> str:
    """``device``, or CUDA when available; CPU when CUDA is asked for but missing (lm-eval's CLI defaults to
    --device cuda:0), with a warning."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        logger.warning("device=%s requested but CUDA is not available: running on CPU "
                       "(pass --device cpu to choose it explicitly)", device)
        return "cpu"
    return str(device)


def _register() -> None:
    """Register the class itself (when imported without the start-up hook, e.g. ``python -S``)."""
    from lm_eval.api import registry

    if hasattr(registry, "model_registry"):
        try:  # upgrades our own lazy placeholder to the class
            registry.model_registry.register("mdlm", target=MDLM)
        except ValueError:  # taken by lm-eval's entry-point discovery, which points here too
            pass
    elif "mdlm" not in registry.MODEL_REGISTRY:
        registry.register_model("mdlm")(MDLM)


_register()
