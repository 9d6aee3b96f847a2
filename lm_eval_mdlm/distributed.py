"""Data-parallel glue for ``accelerate launch -m lm_eval --model mdlm`` (see docs/distributed.md).

lm-eval shards requests by ``lm.rank`` / ``lm.world_size`` and talks to the model through two
contracts:

* lm-eval >= 0.4.12 calls ``lm.all_gather``, ``lm.gather_object`` and ``lm.barrier`` (no-ops in
  the base class, so a model that only sets ``self.accelerator`` silently evaluates one shard);
* lm-eval <= 0.4.11 calls ``lm.accelerator.gather``, ``lm.accelerator.wait_for_everyone`` and
  ``torch.distributed.gather_object`` directly.

:class:`Distributed` serves both. Two details make a sharded run *identical* to a single process:

* **Padding.** With uneven shards lm-eval re-sends the last request of a short rank (the same
  ``Instance`` object) until every rank has as many requests, and appends those answers to that
  request's ``resps``. :func:`split_padding` finds the copies so the model answers them without
  compute and without a trace record, and :meth:`Distributed.wait_for_everyone` (the barrier both
  contracts call right after appending) trims the duplicated answers again.
* **Traces** live in each process; :meth:`Distributed.gather_records` brings them to rank 0 at the
  end of each ``generate_until`` call, a point every rank reaches, so rank 0's ``get_model_info()``
  and ``mdlm_traces_*.jsonl`` cover all ranks. (``get_model_info`` runs on rank 0 only: a collective
  there would deadlock.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import torch

logger = logging.getLogger(__name__)

# As HFLM: ranks wait for each other at barriers while the slowest shard decodes; the default process
# group timeout (30 min) would abort long generative evaluations with uneven shards.
_TIMEOUT = timedelta(weeks=52)


def launched_world_size() -> int:
    """Processes started by ``accelerate launch`` / ``torchrun`` (their ``WORLD_SIZE``), else 1."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


class _AcceleratorView:
    """The real ``Accelerator`` (every attribute forwarded) whose ``wait_for_everyone`` first drops
    lm-eval's padding answers, so the old evaluator contract (which calls
    ``lm.accelerator.wait_for_everyone()`` right after appending answers) gets the same fix."""

    def __init__(self, accelerator: Any, owner: Distributed) -> None:
        self._accelerator = accelerator
        self._owner = owner

    def wait_for_everyone(self) -> None:
        self._owner.trim_padding()
        self._accelerator.wait_for_everyone()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._accelerator, name)


class Distributed:
    """Rank, world size, device and collectives of one evaluation process."""

    def __init__(self, device: torch.device) -> None:
        self.rank, self.world_size, self.device = 0, 1, device
        self.accelerator: Any = None
        self._padded: list[Any] = []
        if launched_world_size() <= 1:
            return  # a plain `lm_eval` run: no process group, no accelerate import
        from accelerate import Accelerator, InitProcessGroupKwargs

        # accelerate treats a multi-process launch as CPU data parallelism (gloo) only when asked for CPU;
        # otherwise, on a machine without GPUs, every process would silently run the whole evaluation.
        cpu = device.type == "cpu" or not torch.cuda.is_available()
        accelerator = Accelerator(cpu=cpu, kwargs_handlers=[InitProcessGroupKwargs(timeout=_TIMEOUT)])
        if accelerator.num_processes <= 1:
            raise RuntimeError(
                f"launched as {launched_world_size()} processes (WORLD_SIZE) but accelerate formed no process "
                "group, so every process would evaluate every request; launch with `accelerate launch "
                "--multi_gpu --num_processes N` (CPU too, see docs/distributed.md) or torchrun.")
        # The global index (not HFLM's local one): lm-eval shards by it, so multi-node runs stay disjoint.
        self.rank, self.world_size = accelerator.process_index, accelerator.num_processes
        logger.info("mdlm data parallel: process %s of %s on %s (%s)", self.rank, self.world_size,
                    accelerator.device, accelerator.distributed_type)
        if accelerator.device.type != "cpu" or device.type != "cpu":
            if device != accelerator.device:
                # One device per process: lm-eval's default --device cuda:0 would put every rank on GPU 0.
                logger.info("rank %s: using %s (given by accelerate) instead of device=%s",
                            self.rank, accelerator.device, device)
            self.device = accelerator.device
        self.accelerator = _AcceleratorView(accelerator, self)

    # ------------------------------------------------------------------ collectives (all ranks call them)
    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Concatenate ``tensor`` from every rank on every rank (0-d tensors become one entry each)."""
        return tensor if self.world_size <= 1 else self.accelerator.gather(tensor)

    def gather_object(self, obj: Any, dst: int = 0) -> list[Any] | None:
        """Every rank's ``obj`` on ``dst`` (rank order), None elsewhere."""
        if self.world_size <= 1:
            return [obj]
        out: list[Any] | None = [None] * self.world_size if self.rank == dst else None
        torch.distributed.gather_object(obj=obj, object_gather_list=out, dst=dst)
        return out

    def barrier(self) -> None:
        """lm-eval's barrier after each request type: also drops its padding answers."""
        if self.world_size > 1:
            self.accelerator.wait_for_everyone()
        else:
            self.trim_padding()

    def gather_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """All ranks' trace records on rank 0, sorted by (task, doc) so the order does not depend on
        the sharding; other ranks get their own records back. Collective: every rank must call it."""
        if self.world_size <= 1:
            return records
        parts = self.gather_object(records, dst=0)
        if self.rank != 0:
            return records
        merged = [r for part in parts or [] for r in part]
        merged.sort(key=lambda r: (str(r.get("task_name")), -1 if r.get("doc_id") is None else r["doc_id"]))
        return merged

    # ------------------------------------------------------------------ lm-eval's padding
    def split_padding(self, requests: Sequence[Any]) -> list[int | None]:
        """For each request, None if it is real, else the index of the real request it copies.

        lm-eval pads a short rank with extra copies of its last request (the same object), so an
        object seen more often than its ``repeats`` is padding. Only sharded runs are padded; a
        single process treats every request as real.
        """
        source: list[int | None] = [None] * len(requests)
        if self.world_size <= 1:
            return source
        first: dict[int, int] = {}
        count: dict[int, int] = {}
        for i, request in enumerate(requests):
            key = id(request)
            count[key] = count.get(key, 0) + 1
            first.setdefault(key, i)
            if count[key] > int(getattr(request, "repeats", 1) or 1):
                source[i] = first[key]
        padded = {id(requests[s]): requests[s] for s in source if s is not None}
        self._padded.extend(padded.values())
        return source

    def trim_padding(self) -> None:
        """Drop the answers lm-eval appended to padded requests beyond their ``repeats``."""
        for request in self._padded:
            resps = getattr(request, "resps", None)
            keep = int(getattr(request, "repeats", 1) or 1)
            if isinstance(resps, list) and len(resps) > keep:
                del resps[keep:]
        self._padded.clear()


def answer_real_requests(requests: Sequence[Any], source: Sequence[int | None],
                         answer: Any) -> list[Any]:
    """``answer(real_requests)`` for the real requests only; padding copies reuse their source's answer."""
    real = [i for i, s in enumerate(source) if s is None]
    answers = answer([requests[i] for i in real])
    out: list[Any] = [None] * len(requests)
    for i, value in zip(real, answers, strict=True):
        out[i] = value
    for i, s in enumerate(source):
        if s is not None:
            out[i] = out[s]
    return out


def model_parallel_kwargs(parallelize: bool, device_map: str | None, max_memory_per_gpu: str | int | None,
                          max_cpu_memory: str | int | None, offload_folder: str | None,
                          local_rank: int = 0, local_world_size: int = 1) -> dict[str, Any]:
    """``from_pretrained`` arguments that split one large model over this process's GPUs (as HFLM).

    With ``parallelize`` and N local processes, process r owns GPUs [r*G/N, (r+1)*G/N) of the node's
    G, so data parallelism across processes and model parallelism within each combine.
    """
    if not parallelize and device_map in (None, "None", ""):
        return {}
    kwargs: dict[str, Any] = {"device_map": device_map or "auto"}
    gpus = torch.cuda.device_count()
    if gpus:
        per_process = max(1, gpus // max(1, local_world_size))
        mine = range(local_rank * per_process, min(gpus, (local_rank + 1) * per_process))
        if max_memory_per_gpu is not None or local_world_size > 1:
            limit = max_memory_per_gpu if max_memory_per_gpu is not None else \
                torch.cuda.get_device_properties(0).total_memory
            kwargs["max_memory"] = {g: limit for g in mine}
            if max_cpu_memory is not None:
                kwargs["max_memory"]["cpu"] = max_cpu_memory
    elif max_cpu_memory is not None:
        kwargs["max_memory"] = {"cpu": max_cpu_memory}
    if offload_folder:
        kwargs["offload_folder"] = offload_folder
    return kwargs


def default_threads() -> int:
    """CPU threads for torch: half the usable cores (at least 1), unless OMP_NUM_THREADS is set.

    Why: on small shared machines torch's default (all cores) oversubscribes and made tiny models
    ~100x slower in our measurements; large CPU hosts still get many threads.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, usable // 2)
