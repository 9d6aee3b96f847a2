"""Log-likelihoods for masked diffusion LMs: ``loglikelihood`` and ``loglikelihood_rolling``.

An MDLM has no left-to-right factorisation to read a log-probability from, so we offer two
estimators of log p(y | x) for a continuation y of L tokens, selected with ``likelihood=``:

* ``elbo`` (default): the masked-diffusion evidence lower bound, by Monte Carlo over ``mc_num``
  random masks. ``elbo_variant=llada`` (LLaDA, Nie et al. 2025, arXiv 2502.09992, Eq. 12 and its
  reference ``get_log_likelihood``): a mask count k ~ U{1..L}, stratified across the MC batch,
  k of the L continuation tokens masked uniformly, the masked tokens' log-probabilities weighted by
  L/k. ``elbo_variant=dream`` (Dream 7B, arXiv 2508.15487, its evaluation harness): t ~ U(0, 1)
  antithetic across the MC batch (t_j = (u + j/M) mod 1), each token masked with probability t,
  weight 1/t. Both have the same mean: summing over mask sizes, E[(L/k) Σ_{i∈S} log p(y_i | x,
  y_{S^c})] = Σ_{k=1}^{L} (1/k) E_{|S|=k}[Σ_{i∈S} log p(y_i | x, y_{S^c})], the any-order
  autoregressive log-likelihood averaged over uniformly random orders (Uria et al. 2014; Hoogeboom
  et al. 2022, "Autoregressive Diffusion Models", Eq. 5; for the continuous t the Beta integral
  ∫ t^{k-1}(1-t)^{L-k} dt = 1/(k·C(L,k)) gives the same weights). Forwards per request:
  ``mc_num`` (Dream: fewer, samples that mask nothing cost none) plus one for ``is_greedy``.
* ``chain``: the exact log-probability under a fixed unmasking order, Σ_t log p(y_σ(t) | x,
  y_σ(<t)), each factor one forward with the not-yet-revealed tokens masked. ``order=l2r`` (left to
  right), ``r2l`` or ``random`` (a seeded uniform permutation per request). Forwards: L.

A single-token continuation is exact in both modes with one forward (its position masked). Every
forward row is one (request, mask pattern); rows of all requests and MC samples share batches of
``likelihood_batch_size`` rows, left-padded with an attention mask as the decoding loop does, and
all randomness is counter-based noise keyed by (request tokens, seed), so results do not depend on
the batch size or on which requests share a call.

``is_greedy``: ``chain``: every token is the argmax of its conditional along the order (what
greedy decoding in that order would produce); ``elbo``: the argmax of every position with the
whole continuation masked equals y (what one-step parallel greedy decoding would produce).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from tqdm import tqdm

from lm_eval_mdlm.decoding.decoder import EngineDecoder
from lm_eval_mdlm.decoding.noise import uniform

MODES = ("elbo", "chain")
ORDERS = ("l2r", "r2l", "random")
ELBO_VARIANTS = ("llada", "dream")
_K_SALT, _MASK_SALT, _ORDER_SALT = 0x4B, 0x4D, 0x4F  # independent noise streams

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class LikelihoodError(ValueError):
    """A likelihood option or request the estimators cannot use; the message says what to change."""


@dataclass(frozen=True)
class LikelihoodConfig:
    """How ``loglikelihood`` requests are answered (``--model_args likelihood=...,mc_num=...``)."""

    mode: str = "elbo"
    mc_num: int = 128
    """Monte Carlo samples per request for ``elbo`` (LLaDA's reference uses 128)."""
    order: str = "l2r"
    elbo_variant: str = "llada"
    batch_size: int = 32
    """Forward rows (request x mask pattern) per batch."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise LikelihoodError(f"likelihood={self.mode!r} is unknown; valid values: {', '.join(MODES)}.")
        if self.order not in ORDERS:
            raise LikelihoodError(f"order={self.order!r} is unknown; valid values: {', '.join(ORDERS)}.")
        if self.elbo_variant not in ELBO_VARIANTS:
            raise LikelihoodError(f"elbo_variant={self.elbo_variant!r} is unknown; valid values: "
                                  f"{', '.join(ELBO_VARIANTS)}.")
        for name in ("mc_num", "batch_size"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise LikelihoodError(f"{name}={getattr(self, name)!r} is invalid: it must be an integer >= 1.")

    @classmethod
    def from_args(cls, likelihood: Any = "elbo", mc_num: Any = 128, order: Any = "l2r",
                  elbo_variant: Any = "llada", batch_size: Any = 32, seed: Any = 0) -> LikelihoodConfig:
        """Build from ``--model_args`` strings; a non-integer count is a clear error."""
        ints = {}
        for name, value in (("mc_num", mc_num), ("likelihood_batch_size", batch_size), ("seed", seed)):
            try:
                ints[name] = int(value)
            except (TypeError, ValueError):
                raise LikelihoodError(f"{name}={value!r} is invalid: it must be an integer.") from None
        return cls(mode=str(likelihood), mc_num=ints["mc_num"], order=str(order), elbo_variant=str(elbo_variant),
                   batch_size=ints["likelihood_batch_size"], seed=ints["seed"])


@dataclass
class Plan:
    """The forward rows of one request: masked (R, L) bool, weights (R, L) float64 applied to the
    log-probabilities of masked positions, check (R, L) positions whose argmax decides is_greedy."""

    masked: torch.Tensor
    weights: torch.Tensor
    check: torch.Tensor


def request_key(context: Sequence[int], continuation: Sequence[int], seed: int) -> int:
    """A signed int64 key from the request's tokens and the seed: identical requests draw identical
    masks, whatever else shares the call (unlike ``row_keys``, repeats are not told apart)."""
    raw = ",".join(map(str, context)).encode() + b"|" + ",".join(map(str, continuation)).encode()
    key = zlib.crc32(raw) ^ (zlib.crc32(f"likelihood:{seed}".encode()) << 32)
    return key - (1 << 64) if key >= 1 << 63 else key


def _noise(key: int, steps: torch.Tensor, width: int, salt: int) -> torch.Tensor:
    """U(0,1) float64 (len(steps), width): one stream per MC sample (``steps``) of one request."""
    keys = torch.full((len(steps),), key, dtype=torch.long)
    positions = torch.arange(width).expand(len(steps), -1)
    return uniform(keys, steps, positions, 1, salt)[..., 0]


def chain_order(length: int, order: str, key: int) -> torch.Tensor:
    """The unmasking order: a permutation of 0..length-1 (``random``: seeded by the request key)."""
    if order == "l2r":
        return torch.arange(length)
    if order == "r2l":
        return torch.arange(length).flip(0)
    return _noise(key, torch.zeros(1, dtype=torch.long), length, _ORDER_SALT)[0].argsort()


def plan_request(length: int, config: LikelihoodConfig, key: int) -> Plan:
    """The rows that estimate log p(y | x) for a continuation of ``length`` tokens (module docstring)."""
    if length == 1:  # exact: one forward with the answer masked
        one = torch.ones(1, 1, dtype=torch.bool)
        return Plan(one, torch.ones(1, 1, dtype=torch.float64), one)
    if config.mode == "chain":
        sigma = chain_order(length, config.order, key)
        rank = torch.empty(length, dtype=torch.long)
        rank[sigma] = torch.arange(length)
        masked = rank[None, :] >= torch.arange(length)[:, None]  # row t: positions sigma[t:] hidden
        scored = torch.zeros(length, length, dtype=torch.bool)
        scored[torch.arange(length), sigma] = True  # row t scores sigma[t]
        return Plan(masked, scored.double(), scored)
    m = config.mc_num
    j = torch.arange(m)
    u0 = _noise(key, torch.zeros(1, dtype=torch.long), 1, _K_SALT)[0, 0]
    draws = _noise(key, j + 1, length, _MASK_SALT)  # (M, L): per-sample position noise
    if config.elbo_variant == "llada":
        # Stratified k: k_0 ~ U{1..L}, k_j = ((k_0 - 1 + floor(jL/M)) mod L) + 1 (LLaDA's linspace
        # stratification in integers, so each k_j is marginally uniform). The k_j positions with the
        # smallest noise are a uniform subset of size k_j.
        k0 = int(u0 * length)
        k = (k0 + (j * length) // m) % length + 1
        ranks = draws.argsort(1).argsort(1)
        masked = ranks < k[:, None]
        weight = (length / k.double())[:, None]
    else:
        t = torch.remainder(u0 + j.double() / m, 1.0).clamp_min(2.0 ** -53)  # antithetic t in (0, 1)
        masked = draws < t[:, None]
        weight = (1.0 / t)[:, None]
    weights = torch.where(masked, weight / m, 0.0)
    keep = masked.any(1)  # samples that mask nothing add 0: no forward needed
    full = torch.ones(1, length, dtype=torch.bool)  # the is_greedy row, scoring nothing
    return Plan(torch.cat([masked[keep], full]), torch.cat([weights[keep], torch.zeros(1, length,
                dtype=torch.float64)]), torch.cat([torch.zeros_like(masked[keep]), full]))


def score_requests(forward: Forward, requests: Sequence[tuple[Sequence[int], Sequence[int]]],
                   config: LikelihoodConfig, *, mask_id: int, pad_id: int, device: torch.device | str = "cpu",
                   disable_tqdm: bool = True) -> list[tuple[float, bool]]:
    """(log p(continuation | context), is_greedy) for token-level requests ``(context, continuation)``.

    Continuations must be non-empty (an empty one scores 0.0, greedy) and every context +
    continuation must already fit the model (see :func:`fit_request`).
    """
    rows: list[tuple[int, int]] = []  # (request, row within its plan)
    plans: list[Plan | None] = []
    for i, (context, continuation) in enumerate(requests):
        if not continuation:
            plans.append(None)
            continue
        plans.append(plan_request(len(continuation), config, request_key(context, continuation, config.seed)))
        rows.extend((i, r) for r in range(len(plans[-1].masked)))
    # Similar total lengths share a batch (less padding); the order does not change any row's value.
    rows.sort(key=lambda ir: -(len(requests[ir[0]][0]) + len(requests[ir[0]][1])))
    totals = torch.zeros(len(requests), dtype=torch.float64)
    greedy = torch.ones(len(requests), dtype=torch.bool)
    bar = tqdm(total=len(rows), desc="mdlm likelihood rows", disable=disable_tqdm)
    for start in range(0, len(rows), config.batch_size):
        batch = rows[start:start + config.batch_size]
        contrib, ok = _run_batch(forward, requests, plans, batch, mask_id, pad_id, torch.device(device))
        owners = torch.tensor([i for i, _ in batch])
        totals.index_add_(0, owners, contrib)
        for (i, _), good in zip(batch, ok.tolist()):
            greedy[i] &= good
        bar.update(len(batch))
    bar.close()
    return [(float(totals[i]), bool(greedy[i])) for i in range(len(requests))]


def _run_batch(forward: Forward, requests: Sequence[tuple[Sequence[int], Sequence[int]]],
               plans: Sequence[Plan | None], batch: Sequence[tuple[int, int]], mask_id: int, pad_id: int,
               device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward over the batch's rows: each row's weighted log-probability sum and greedy flag."""
    seqs = [list(requests[i][0]) + list(requests[i][1]) for i, _ in batch]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros(len(batch), width, dtype=torch.bool)
    hidden = torch.zeros(len(batch), width, dtype=torch.bool)
    weights = torch.zeros(len(batch), width, dtype=torch.float64)
    check = torch.zeros(len(batch), width, dtype=torch.bool)
    for b, ((i, r), seq) in enumerate(zip(batch, seqs)):
        plan, n = plans[i], len(requests[i][1])
        ids[b, width - len(seq):] = torch.tensor(seq)
        attention[b, width - len(seq):] = True
        hidden[b, width - n:] = plan.masked[r]
        weights[b, width - n:] = plan.weights[r]
        check[b, width - n:] = plan.check[r]
    targets = ids.clone()
    ids[hidden] = mask_id
    logits = forward(ids.to(device), attention.to(device))
    picked = (hidden & ((weights != 0) | check)).nonzero()  # only these positions need a softmax
    rows_, cols = picked[:, 0], picked[:, 1]
    selected = logits[rows_.to(device), cols.to(device)].double().cpu()
    logp = selected.log_softmax(-1).gather(1, targets[rows_, cols][:, None])[:, 0]
    contrib = torch.zeros(len(batch), dtype=torch.float64).index_add_(0, rows_, logp * weights[rows_, cols])
    selected[:, mask_id] = -torch.inf  # decoding never proposes the mask token
    wrong = check[rows_, cols] & (selected.argmax(-1) != targets[rows_, cols])
    ok = torch.ones(len(batch), dtype=torch.bool)
    ok[rows_[wrong]] = False
    return contrib, ok


# ---------------------------------------------------------------------- lm-eval entry points
class Host(Protocol):
    """What the lm-eval entry points read of ``--model mdlm``'s model (:class:`lm_eval_mdlm.model.MDLM`): its
    tokenizer and limits, the likelihood options, and lm-eval's cache hook (partial results)."""

    tokenizer: Any
    likelihood_config: LikelihoodConfig
    cache_hook: Any

    @property
    def max_length(self) -> int: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def rank(self) -> int: ...

    def tok_encode(self, string: str) -> list[int]: ...


def fit_request(context: Sequence[int], continuation: Sequence[int], max_length: int) -> list[int]:
    """The context, cut from the left (as HFLM) so that context + continuation fit ``max_length``."""
    if len(continuation) > max_length:
        raise LikelihoodError(
            f"a continuation of {len(continuation)} tokens exceeds the model's max_length={max_length}: it "
            "cannot be scored in one canvas. Raise max_length (if the model allows) or score the text with "
            "loglikelihood_rolling, which splits it into windows.")
    room = max_length - len(continuation)
    return list(context[-room:]) if room else []


def loglikelihood_tokens(lm: Host, forward: EngineDecoder,
                         requests: Sequence[tuple[tuple[str, str], list[int], list[int]]],
                         disable_tqdm: bool = False) -> list[tuple[float, bool]]:
    """``TemplateLM._loglikelihood_tokens`` for ``--model mdlm`` (``lm`` is the MDLM instance, ``forward`` its
    model's masked-canvas forward).

    An empty context string arrives as ``[prefix_token_id]`` (EOS) from lm-eval, a causal LM's way
    to have something to condition on; a bidirectional denoiser needs none, so we re-encode such
    requests with an empty prompt (or BOS with ``add_bos_token``) and the whole continuation.
    """
    pairs = []
    for (context, continuation), context_enc, continuation_enc in requests:
        if context == "":
            context_enc = lm.tok_encode("")
            continuation_enc = lm.tokenizer(continuation, add_special_tokens=False).input_ids
        pairs.append((fit_request(context_enc, continuation_enc, lm.max_length), list(continuation_enc)))
    answers = _score(lm, forward, pairs, disable_tqdm)
    for (strings, _, _), answer in zip(requests, answers):
        lm.cache_hook.add_partial("loglikelihood", strings, answer)
    return answers


def rolling_windows(tokens: Sequence[int], prefix: Sequence[int], max_length: int) -> list[tuple[list[int], list[int]]]:
    """Disjoint windows covering ``tokens``: chunks of max_length // 2 tokens, each conditioned on up
    to max_length - chunk preceding tokens (the first on ``prefix``, e.g. BOS or nothing)."""
    stride = max(1, max_length // 2)
    windows = []
    for start in range(0, len(tokens), stride):
        chunk = list(tokens[start:start + stride])
        before = list(prefix) + list(tokens[:start])
        windows.append((fit_request(before, chunk, max_length), chunk))
    return windows


def loglikelihood_rolling(lm: Host, forward: EngineDecoder, requests: Sequence[Any],
                          disable_tqdm: bool = False) -> list[float]:
    """Sum of window log-likelihoods over each whole text (perplexity tasks), every window of every
    request batched together; cost: the mode's forwards per window."""
    windows, owners = [], []
    for index, request in enumerate(requests):
        (text,) = request.args
        tokens = lm.tokenizer(text, add_special_tokens=False).input_ids
        for window in rolling_windows(tokens, lm.tok_encode(""), lm.max_length):
            windows.append(window)
            owners.append(index)
    scores = _score(lm, forward, windows, disable_tqdm)
    totals = [0.0] * len(requests)
    for index, (logprob, _) in zip(owners, scores):
        totals[index] += logprob
    for request, total in zip(requests, totals):
        lm.cache_hook.add_partial("loglikelihood_rolling", request.args, total)
    return totals


def _score(lm: Host, forward: EngineDecoder, requests: Sequence[tuple[Sequence[int], Sequence[int]]],
           disable_tqdm: bool) -> list[tuple[float, bool]]:
    """:func:`score_requests` with the model's ids and options (a progress bar on rank 0 only)."""
    assert forward.mask_id is not None, "a masked-canvas forward has a mask token"
    return score_requests(forward, requests, lm.likelihood_config, mask_id=forward.mask_id, pad_id=forward.pad_id,
                          device=lm.device, disable_tqdm=disable_tqdm or lm.rank != 0)
