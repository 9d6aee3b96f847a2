"""Oracle denoisers for the synthetic list operations of ParallelBench §4 (Copy, Replace Index,
Replace Random, Shuffle): the *exact* conditional distribution of every answer position given the
input list X and any partially unmasked answer, behind the engine's denoiser interface.

Why: §4 derives accuracies of decoding strategies for an *ideal* model (logits
``l = l_ideal + ε``, §4.2) and total correlations of the data (§4.1, Eq. 3-5). A model whose
conditionals are exact by construction lets the real engine (every strategy, every lm-eval task)
reproduce those numbers on a CPU, so the engine itself is what gets validated.

Data distributions (paper §4): Copy ``Y = X``; Replace Index ``Y = X`` with item ``index`` set to
the new item F; Replace Random: one position, uniform over the n, is set to F (F not in X);
Shuffle: a uniform random permutation of X (all n! orders, as Eq. 4's ``log2 n!`` assumes; the lm-eval
Shuffle task additionally rejects the identity, so a perfect oracle scores 1 - 1/n! there).

Given a partial answer the op cannot produce (possible only after positions were committed in
parallel), the conditional is undefined; the oracle then conditions on what is still consistent:
Shuffle spreads its mass over the items of X not yet placed (all of X if every one was placed),
Replace Random keeps every open position once any F is placed. Such rows are failures already.

Tie-breaking noise (§4.2: "``ε_j`` zero-mean stochastic noise"): each logit gets
``noise * (U - 1/2)`` with U a hash of (row content, position, token), so greedy decoding breaks
ties uniformly at random, yet a row's output does not depend on its batch (padding is not hashed).
Identical rows get identical noise: greedy decoding of identical prompts gives identical answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lm_eval_mdlm.decoding.decoder import EngineDecoder
from lm_eval_mdlm.decoding.noise import mix64, uniform
from lm_eval_mdlm.oracle.vocab import OracleVocab

OPS = ("copy", "replace_index", "replace_random", "shuffle")
LAYOUTS = ("list", "bare")
NEG = -1e4  # log-probability of impossible tokens: exp(-1e4) is exactly 0.0 in float64
_GOLDEN = 0x9E3779B97F4A7C15 - (1 << 64)
_NOISE_SALT = 0x5EED


class OracleError(ValueError):
    """A prompt or option the oracle cannot work with; the message says what to change."""


def slot_distribution(op: str, items: torch.Tensor, answer: torch.Tensor, word: torch.Tensor,
                      index: torch.Tensor, vocab_size: int, mask_id: int) -> torch.Tensor:
    """Exact P(y_j = v | X, committed y) for every item slot j: (A, n, V) float64.

    ``items`` (A, n) holds X's token ids (-1 past a row's length), ``answer`` (A, n) the tokens now
    at the answer's item slots (``mask_id`` = still open), ``word`` (A,) the new item F and
    ``index`` (A,) the 0-based replaced position (ignored by ops that do not use them). Committed
    slots get a one-hot on their own token.
    """
    if op not in OPS:
        raise OracleError(f"op={op!r} is unknown; valid ops: {', '.join(OPS)}.")
    valid = items >= 0
    open_ = valid & (answer == mask_id)
    committed = valid & ~open_

    def onehot(tokens: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(tokens.clamp_min(0), vocab_size).to(torch.float64)

    if op == "copy":
        probs = onehot(items)
    elif op == "replace_index":
        target = items.clone()
        rows = torch.arange(items.shape[0], device=items.device)
        target[rows, index] = word
        probs = onehot(target)
    elif op == "replace_random":
        # No F placed yet: F sits at each of the m open positions with probability 1/m (the
        # replaced position is uniform over the positions not yet shown to keep their item).
        placed_f = (committed & (answer == word[:, None])).any(1)
        m = open_.sum(1).clamp_min(1).to(torch.float64)
        p_f = torch.where(placed_f, 0.0, 1.0 / m)[:, None, None]
        probs = onehot(items) * (1 - p_f) + onehot(word)[:, None, :] * p_f
    else:  # shuffle: uniform permutation => next item uniform over the multiset not yet placed
        counts_x = torch.zeros(items.shape[0], vocab_size, dtype=torch.float64, device=items.device)
        counts_x.scatter_add_(1, items.clamp_min(0), valid.to(torch.float64))
        counts_y = torch.zeros_like(counts_x).scatter_add_(1, answer.clamp_min(0), committed.to(torch.float64))
        left = (counts_x - counts_y).clamp_min(0)
        left = torch.where(left.sum(1, keepdim=True) > 0, left, counts_x)
        probs = (left / left.sum(1, keepdim=True).clamp_min(1))[:, None, :].expand(-1, items.shape[1], -1)
    probs = torch.where(committed[..., None], onehot(answer), probs)
    return probs * valid[..., None]


def is_valid_answer(op: str, items: Sequence[str], answer: Sequence[str], word: str | None = None,
                    index: int | None = None) -> bool:
    """Whether ``answer`` is in the support of the op's output distribution for input ``items``."""
    items, answer = list(items), list(answer)
    if len(answer) != len(items):
        return False
    if op == "copy":
        return answer == items
    if op == "replace_index":
        return answer == [*items[:index], word, *items[index + 1:]]
    if op == "replace_random":
        changed = [j for j, (a, b) in enumerate(zip(items, answer)) if a != b]
        return len(changed) == 1 and answer[changed[0]] == word
    if op == "shuffle":
        return sorted(answer) == sorted(items)
    raise OracleError(f"op={op!r} is unknown; valid ops: {', '.join(OPS)}.")


class ListOpOracle(EngineDecoder):
    """The exact list-operation model as a denoiser: ``oracle(input_ids, attention_mask) -> logits``.

    Rows are ``[pad | prompt | answer]``. The answer starts after the last prompt token that cannot
    occur in an answer (the chat template's ``<|assistant|>`` or the prompt's final word); X is the
    prompt's last bracketed list, F the item after the last ``with``, the index the number after
    the last ``position``. Layout ``list`` answers ``[ y1 , ... , yn ]`` then EOS (what the
    lm-eval tasks score); ``bare`` answers ``y1 ... yn`` then EOS (the paper's partitions, which
    count item positions only). Logits are float64 log-probabilities (+ tie-breaking noise).
    """

    family = "oracle"

    def __init__(self, op: str, *, items: int = 26, layout: str = "list", noise: float = 1e-6,
                 index_base: int = 0, n: int | None = None, max_length: int = 4096,
                 device: str | torch.device = "cpu") -> None:
        if op not in OPS:
            raise OracleError(f"oracle op {op!r} is unknown; valid ops: {', '.join(OPS)} "
                              "(e.g. pretrained=oracle:shuffle).")
        if layout not in LAYOUTS:
            raise OracleError(f"layout={layout!r} is unknown; valid layouts: {', '.join(LAYOUTS)}.")
        if not noise >= 0:
            raise OracleError(f"noise={noise!r} is invalid: the tie-breaking noise scale must be >= 0 "
                              "(0 turns it off; default 1e-6).")
        if index_base not in (0, 1):
            raise OracleError(f"index_base={index_base!r} is invalid: use 0 (the tasks' 0-based "
                              "'position {{index}}') or 1.")
        if n is not None and not 1 <= n <= items:
            raise OracleError(f"n={n!r} is invalid: a list holds 1..items={items} distinct items.")
        self.op, self.layout, self.noise, self.index_base, self.n = op, layout, float(noise), index_base, n
        self.vocab = OracleVocab(items)
        self.tokenizer = self.vocab.build_tokenizer(f"oracle-{op}")
        self.mask_id, self.pad_id, self.eos_ids = self.vocab.mask, self.vocab.pad, (self.vocab.eos,)
        self.max_length = int(max_length)
        self._device = torch.device(device)
        self._ids = self.vocab.ids
        self._alphabet = torch.tensor(self.vocab.answer_alphabet)
        self._item_set = frozenset(self.vocab.item_ids)
        self._cache: dict[tuple[int, ...], tuple[tuple[int, ...], int, int]] = {}

    @property
    def device(self) -> torch.device:
        return self._device

    # ------------------------------------------------------------------ prompts
    def prompt_text(self, items: Sequence[str], *, word: str | None = None, index: int | None = None) -> str:
        """A user message for this op in the wording of the list-operation tasks."""
        listed = "[" + ", ".join(items) + "]"
        if self.op == "copy":
            return f"Copy the following list exactly:\n{listed}\nProvide only the final list."
        if self.op == "replace_index":
            return (f"Replace the item at position {index} with {word} in the following list:\n{listed}\n"
                    "Provide only the final list.")
        if self.op == "replace_random":
            return f"Replace one random item with {word} in the following list:\n{listed}\nProvide only the final list."
        return f"Randomly shuffle the following list:\n{listed}\nProvide only the final list."

    def prompt_ids(self, items: Sequence[str], *, word: str | None = None, index: int | None = None) -> list[int]:
        """Token ids of :meth:`prompt_text` in the chat template, ending with ``<|assistant|>``."""
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": self.prompt_text(items, word=word, index=index)}],
            tokenize=False, add_generation_prompt=True)
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def answer_length(self, n: int) -> int:
        """Tokens an answer for n items needs before its EOS."""
        return 2 * n + 1 if self.layout == "list" else n

    def read_answer(self, tokens: Sequence[int], n: int) -> list[str]:
        """The n item names at the item slots of a decoded answer (what the op's validity is about)."""
        slots = [1 + 2 * j for j in range(n)] if self.layout == "list" else list(range(n))
        return [self.vocab.tokens[tokens[s]] for s in slots]

    def _parse(self, prompt: tuple[int, ...]) -> tuple[tuple[int, ...], int, int]:
        """(X token ids, F token id or -1, 0-based index or -1) read from one prompt."""
        if prompt in self._cache:
            return self._cache[prompt]
        ids, tokens = self._ids, self.vocab.tokens
        shown = " ".join(tokens[t] for t in prompt[-40:])
        opens = [i for i, t in enumerate(prompt) if t == ids["["]]
        close = next((i for i in range(opens[-1] + 1, len(prompt)) if prompt[i] == ids["]"]), None) if opens else None
        if close is None:
            raise OracleError(f"oracle:{self.op}: the prompt has no bracketed list [A, B, ...] to operate on "
                              f"(prompt ends: {shown!r}). The oracle reads X from the prompt's last list.")
        body = prompt[opens[-1] + 1:close]
        items = body[0::2]
        if not items or any(t not in self._item_set for t in items) or any(t != ids[","] for t in body[1::2]):
            raise OracleError(f"oracle:{self.op}: the prompt's last list {' '.join(tokens[t] for t in body)!r} "
                              f"is not a comma-separated list of single items from the oracle's vocabulary "
                              f"({tokens[self.vocab.item_ids[0]]}..{tokens[self.vocab.item_ids[-1]]}; raise "
                              "items= for more).")
        if self.n is not None and len(items) != self.n:
            raise OracleError(f"oracle:{self.op}: the prompt's list has {len(items)} items but the oracle was "
                              f"built with n={self.n}; drop n= or use matching prompts.")
        word, index = -1, -1
        if self.op.startswith("replace"):
            hits = [prompt[i + 1] for i in range(len(prompt) - 1)
                    if prompt[i] == ids["with"] and prompt[i + 1] in self._item_set]
            if not hits:
                raise OracleError(f"oracle:{self.op}: the prompt names no new item ('with F'; prompt ends: {shown!r}).")
            word = hits[-1]
            if self.op == "replace_random" and word in items:
                raise OracleError(f"oracle:replace_random: the new item {tokens[word]} is already in the list; "
                                  "§4's Replace Random needs F outside X.")
        if self.op == "replace_index":
            hits = [self.vocab.number_of[prompt[i + 1]] for i in range(len(prompt) - 1)
                    if prompt[i] == ids["position"] and prompt[i + 1] in self.vocab.number_of]
            if not hits or not 0 <= hits[-1] - self.index_base < len(items):
                raise OracleError(f"oracle:replace_index: no valid 'position <i>' for a list of {len(items)} "
                                  f"items with index_base={self.index_base} (prompt ends: {shown!r}).")
            index = hits[-1] - self.index_base
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[prompt] = (tuple(items), word, index)
        return self._cache[prompt]

    # ------------------------------------------------------------------ forward
    @torch.inference_mode()
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        ids, attention = input_ids, attention_mask.bool()
        rows, width = ids.shape
        dev, vocab_size = ids.device, self.vocab.size
        cols = torch.arange(width, device=dev)
        foreign = attention & ~torch.isin(ids, self._alphabet.to(dev))
        has_prompt = foreign.any(1)
        start = torch.where(has_prompt, width - foreign.flip(1).long().argmax(1), width)
        logits = torch.zeros(rows, width, vocab_size, dtype=torch.float64, device=dev)
        probe = ~has_prompt & ((ids == self.mask_id) | ~attention).all(1)
        if (~has_prompt & ~probe).any():
            raise OracleError(f"oracle:{self.op}: a row has no prompt before its answer; rows must be "
                              "[pad | prompt | answer] with a prompt holding the input list.")
        live = has_prompt.nonzero().squeeze(1)
        if live.numel() == 0:
            return logits  # memory probes (all-mask rows): nothing to condition on
        ids_l, att_l, start_l = ids[live], attention[live], start[live]
        begin = att_l.long().argmax(1).tolist()  # rows are left-padded: prompt = [begin, start)
        parsed = [self._parse(tuple(row[b:e])) for row, b, e in zip(ids_l.tolist(), begin, start_l.tolist())]
        n = torch.tensor([len(p[0]) for p in parsed], device=dev)
        n_max = int(n.max())
        items = torch.tensor([list(p[0]) + [-1] * (n_max - len(p[0])) for p in parsed], device=dev)
        word = torch.tensor([p[1] for p in parsed], device=dev)
        index = torch.tensor([max(p[2], 0) for p in parsed], device=dev)
        need = 2 * n + 1 if self.layout == "list" else n
        if bool((width - start_l < need).any()):
            short = int((width - start_l - need).argmin())
            raise OracleError(f"oracle:{self.op}: an answer of {int(width - start_l[short])} tokens cannot hold "
                              f"the {self.layout} layout of {int(n[short])} items ({int(need[short])} tokens before "
                              "its EOS); raise max_gen_toks.")
        # Only the columns from the earliest answer start on carry predictions; the rest stay 0.
        first = int(start_l.min())
        rel = cols[None, first:] - start_l[:, None]
        j = torch.arange(n_max, device=dev)
        slot_pos = start_l[:, None] + (1 + 2 * j if self.layout == "list" else j)[None, :]
        slot_tokens = ids_l.gather(1, slot_pos.clamp(max=width - 1))
        probs_slots = slot_distribution(self.op, items, slot_tokens, word, index, vocab_size, self.mask_id)
        if self.layout == "list":
            is_slot = (rel % 2 == 1) & (rel < 2 * n[:, None])
            slot_of = (rel - 1).div(2, rounding_mode="floor")
            fixed = torch.where(rel == 0, self._ids["["], torch.where(rel < 2 * n[:, None], self._ids[","],
                                torch.where(rel == 2 * n[:, None], self._ids["]"], self.vocab.eos)))
        else:
            is_slot = (rel >= 0) & (rel < n[:, None])
            slot_of, fixed = rel, torch.full_like(rel, self.vocab.eos)
        log_slots = torch.where(probs_slots > 0, probs_slots.clamp_min(1e-300).log(), NEG)
        answer_logits = log_slots.gather(1, slot_of.clamp(0, n_max - 1)[..., None].expand(-1, -1, vocab_size))
        fixed_logits = torch.full_like(answer_logits, NEG).scatter_(-1, fixed[..., None], 0.0)
        answer_logits = torch.where(is_slot[..., None], answer_logits, fixed_logits)
        if self.noise > 0:
            answer_logits = answer_logits + self.noise * (self._tie_noise(ids_l, att_l, rel) - 0.5)
        logits[live, first:] = torch.where((rel >= 0)[..., None], answer_logits, 0.0)
        return logits

    def _tie_noise(self, ids: torch.Tensor, attention: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        """U(0,1) of shape (A, L, V) from a hash of the row's attended tokens (not its padding)."""
        place = attention.long().cumsum(1) - 1
        cell = mix64((ids + 1) * _GOLDEN + mix64(place + _NOISE_SALT)) * attention.long()
        key = mix64(cell.sum(1))
        step = torch.zeros_like(key)
        return uniform(key, step, rel.clamp_min(0), self.vocab.size, salt=_NOISE_SALT)

    def describe(self) -> dict[str, Any]:
        """The oracle's settings, for logs and results."""
        return {"op": self.op, "items": self.vocab.num_items, "layout": self.layout, "noise": self.noise,
                "index_base": self.index_base, "n": self.n}
