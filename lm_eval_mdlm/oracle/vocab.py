"""The oracle's word-level tokenizer: one token per list item, so a list position is one token.

ParallelBench §4 reasons about lists ``[A, B, C, D, E]`` whose items are atomic; a word-level
vocabulary (``tokenizers.models.WordLevel``) keeps that exact: every item, format mark and index is a
single token. Words the oracle does not need (the prompt's English) map to ``<unk>``; the oracle only
reads the anchors ``position <i>`` and ``with <item>`` and the last bracketed list of the prompt.
The tokenizer is a real ``PreTrainedTokenizerFast`` with special tokens and a chat template, so
lm-eval's prompt building (plain or ``--apply_chat_template``) works unchanged.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cached_property
from typing import Any

SPECIALS = ("<pad>", "<mask>", "<eos>", "<unk>", "<bos>")
ROLES = ("<|system|>", "<|user|>", "<|assistant|>")
FORMAT = ("[", ",", "]")
ANCHORS = ("position", "with")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
MAX_ITEMS = 26 * 10


def item_names(count: int) -> tuple[str, ...]:
    """``A``..``Z`` (the task generator's items), then ``A1``..``Z1``, ``A2``.. for larger vocabularies."""
    if not 2 <= count <= MAX_ITEMS:
        raise ValueError(f"items={count!r} is invalid: the item vocabulary needs 2..{MAX_ITEMS} items "
                         "(e.g. items=26 for the letters A..Z the list-operation tasks use).")
    letters = string.ascii_uppercase
    return tuple(letters[i % 26] + ("" if i < 26 else str(i // 26)) for i in range(count))


@dataclass(frozen=True)
class OracleVocab:
    """Token ids of the oracle's vocabulary for ``num_items`` items (indices 0..num_items)."""

    num_items: int = 26

    @cached_property
    def tokens(self) -> tuple[str, ...]:
        numbers = tuple(str(i) for i in range(self.num_items + 1))  # 0- or 1-based positions
        return SPECIALS + ROLES + FORMAT + ANCHORS + numbers + item_names(self.num_items)

    @cached_property
    def ids(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(self.tokens)}

    @property
    def size(self) -> int:
        return len(self.tokens)

    @property
    def pad(self) -> int:
        return self.ids["<pad>"]

    @property
    def mask(self) -> int:
        return self.ids["<mask>"]

    @property
    def eos(self) -> int:
        return self.ids["<eos>"]

    @property
    def assistant(self) -> int:
        return self.ids["<|assistant|>"]

    @cached_property
    def item_ids(self) -> tuple[int, ...]:
        return tuple(self.ids[name] for name in item_names(self.num_items))

    @cached_property
    def number_of(self) -> dict[int, int]:
        """token id -> the integer it spells (index tokens)."""
        return {self.ids[str(i)]: i for i in range(self.num_items + 1)}

    @cached_property
    def answer_alphabet(self) -> tuple[int, ...]:
        """Every token an oracle answer can hold: items, ``[ , ]``, EOS (and the mask while open)."""
        return self.item_ids + tuple(self.ids[t] for t in FORMAT) + (self.eos, self.mask)

    def build_tokenizer(self, name: str) -> Any:
        """A ``PreTrainedTokenizerFast`` over this vocabulary (whitespace and punctuation split)."""
        from tokenizers import Tokenizer, models, pre_tokenizers
        from transformers import PreTrainedTokenizerFast

        core = Tokenizer(models.WordLevel(dict(self.ids), unk_token="<unk>"))
        core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_object=core, pad_token="<pad>", mask_token="<mask>", eos_token="<eos>",
            unk_token="<unk>", bos_token="<bos>", additional_special_tokens=list(ROLES), name_or_path=name,
            model_max_length=1 << 20)
        tokenizer.chat_template = CHAT_TEMPLATE
        return tokenizer
