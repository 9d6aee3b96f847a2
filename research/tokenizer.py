"""The one tokenizer builder of the project: a byte-level BPE trained on a corpus, as a transformers tokenizer.

The default model's tokenizer (:func:`research.default_model.recipe.build_tokenizer`) and every test
fixture's (``tests/fixtures``) are this builder with their own corpus, special tokens and chat template.
Byte-level, so any text still encodes (chat templates, unexpected prompts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def train_bpe_tokenizer(texts: Iterable[str], specials: dict[str, str], vocab_size: int, chat_template: str,
                        extra: Sequence[str] = (), unk: bool = True) -> Any:
    """A ``PreTrainedTokenizerFast`` whose BPE is trained on ``texts``.

    ``specials`` maps transformers' names (``pad_token``, ``mask_token``, ...) to their strings; they and
    ``extra`` (e.g. chat role markers) are whole tokens, in that order and before the merges. ``unk``: the
    BPE falls back to ``specials["unk_token"]`` (off for hub layouts whose BPE has no unknown token).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token=specials["unk_token"]) if unk else models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokens = list(dict.fromkeys([*specials.values(), *extra]))
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=tokens,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, **specials)
    tokenizer.chat_template = chat_template
    return tokenizer
