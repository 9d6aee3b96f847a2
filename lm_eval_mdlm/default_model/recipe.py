"""The default model's recipe: tokenizer, curriculum and hyper-parameters, in one place.

``run(out_dir)`` trains it (seeded; timings land in ``recipe.json``). No checkpoint ships yet: runs of
up to ~2,200 steps of this recipe on 2 CPU cores learnt the answer format and list length but not yet
to copy names (the plateau before copying emerges), so :data:`RECIPE` is the last configuration tried,
the starting point for a longer run.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from lm_eval_mdlm.default_model.data import Sampler, corpus
from lm_eval_mdlm.default_model.train import Recipe, train

SPECIAL_TOKENS = {"pad_token": "<pad>", "mask_token": "<mask>", "eos_token": "<eos>", "bos_token": "<bos>",
                  "unk_token": "<unk>"}
ROLE_TOKENS = ["<|user|>", "<|assistant|>", "<|system|>"]
# Each message is "<|role|>\n{content}\n"; the generation prompt opens the assistant turn.
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")

RECIPE = Recipe(seed=0, hidden=256, layers=4, heads=8, intermediate=512, vocab_size=1024, answer_length=32,
                batch_size=32, lr=2e-3, warmup=100, steps=4000, threads=2, bf16=True, full_mask_rate=0.5,
                curriculum=[(0.15, "copy"), (0.85, "all")])


def build_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """Byte-level BPE trained on the task corpus: every name part ends up as one token.

    Byte-level, so any text still encodes (chat templates, unexpected prompts); the GPT-2 style
    pre-tokenizer keeps words apart from punctuation, so a first name is one token and a last name
    (with its leading space) another, which makes copying a list a token-level operation.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS.values()) + ROLE_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, **SPECIAL_TOKENS)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = 1024
    return tokenizer


def run(out_dir: str, **changes: Any) -> dict:
    """Train the default model with :data:`RECIPE` (fields overridden by ``changes``) into ``out_dir``."""
    recipe = dataclasses.replace(RECIPE, **changes)
    tokenizer = build_tokenizer(corpus(random.Random(recipe.seed)), recipe.vocab_size)
    return train(recipe, tokenizer, Sampler(tokenizer), out_dir)
