"""The research token-type channel (previous-token types, skip lists): closed forms, configs that cannot apply
refused by name, and training's forward equal to the engine's on a checkpoint without the channel."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from research.default_model.token_types import previous_token_types, punctuation_ids, token_types
from research.default_model.train import logits_from


def _tiny_bert(previous_types: bool, skip: list[int] | None = None):
    import transformers

    config = transformers.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=64, pad_token_id=0,
                                     type_vocab_size=50 if previous_types else 1,
                                     **({"mdlm_token_types": "previous"} if previous_types else {}),
                                     **({"mdlm_token_types_skip": skip} if skip is not None else {}))
    torch.manual_seed(0)
    return transformers.BertForMaskedLM(config).eval()


def test_answer_logits_equal_the_engine_forward_on_the_answer() -> None:
    """Training's forward (answer logits only) is the engine's forward: same positions, left padding invisible."""
    from lm_eval_mdlm.families.base import Denoiser
    from lm_eval_mdlm.families.bert import MASKED_LM

    model = _tiny_bert(False)
    ids = torch.randint(3, 50, (3, 20))
    attention = torch.ones_like(ids)
    attention[0, :4] = 0  # a left-padded row
    ids[0, :4] = 0
    engine = Denoiser(model, None, mask_id=1, eos_ids=(2,), pad_id=0, max_length=64, family=MASKED_LM)
    with torch.no_grad():
        full = engine(ids, attention.bool())
        assert torch.allclose(logits_from(model, ids, attention, 12), full[:, 12:], atol=1e-5)
        assert logits_from(model, ids, attention, 0).shape == full.shape
        alone = engine(ids[:1, 4:], attention[:1, 4:].bool())  # the padded row without its padding
    assert torch.allclose(full[0, 4:], alone[0], atol=1e-5)


def test_training_feeds_the_types_it_declares() -> None:
    """With the channel, training's forward is the model's own forward on the previous-token types (the skip
    list passed over), and differs from the forward without them."""
    from research.default_model.train import encoder_inputs

    model = _tiny_bert(True, list(range(3, 20)))
    ids = torch.randint(3, 50, (2, 12))
    attention = torch.ones_like(ids)
    _, skip = token_types(model.config, 50)
    types = previous_token_types(ids, attention, 0, skip)
    assert torch.equal(encoder_inputs(model, ids, attention)["token_type_ids"], types)
    with torch.no_grad():
        own = model(input_ids=ids, attention_mask=attention, token_type_ids=types,
                    position_ids=(attention.cumsum(1) - 1)).logits
        assert torch.allclose(logits_from(model, ids, attention, 0), own, atol=1e-5)
        assert not torch.allclose(logits_from(model, ids, attention, 0), model(input_ids=ids).logits, atol=1e-3)


def test_previous_token_types_are_the_ids_before_and_ignore_padding() -> None:
    ids = torch.tensor([[0, 0, 7, 8, 9], [5, 6, 7, 8, 9]])
    attention = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert previous_token_types(ids, attention, pad_id=0).tolist() == [[0, 0, 0, 7, 8], [0, 5, 6, 7, 8]]
    # a pad id that is not 0, and padding that holds other ids, change nothing but the pad value
    assert previous_token_types(ids.masked_fill(attention == 0, 4), attention, pad_id=3).tolist() == \
        [[3, 3, 3, 7, 8], [3, 5, 6, 7, 8]]


def test_previous_word_types_pass_over_skipped_ids() -> None:
    """With a skip table a token's type is the last id before it that is not skipped, and a skipped token
    has none (closed form below)."""
    skip = torch.zeros(20, dtype=torch.bool)
    skip[[5, 6]] = True  # "punctuation"
    ids = torch.tensor([[0, 0, 7, 5, 6, 8, 9], [5, 7, 8, 5, 5, 6, 9]])
    attention = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]])
    # row 0: 7 has nothing before it; 8 follows 7 (5 and 6 passed over); 9 follows 8; skipped ids get no type.
    # row 1: the leading 5 is passed over, so 7 has nothing before it either.
    assert previous_token_types(ids, attention, pad_id=0, skip=skip).tolist() == \
        [[0, 0, 0, 0, 0, 7, 8], [0, 0, 7, 0, 0, 0, 8]]
    # an empty table is the plain previous id
    assert torch.equal(previous_token_types(ids, attention, 0, torch.zeros(20, dtype=torch.bool)),
                       previous_token_types(ids, attention, 0))


def test_a_skip_list_that_cannot_apply_is_refused() -> None:
    from lm_eval_mdlm.config import ConfigError

    with pytest.raises(ConfigError, match=r"config.mdlm_token_types_skip holds \[50, -1\], which are not token ids "
                                          r"of this vocabulary \(0..49\)"):
        token_types(_tiny_bert(True, [4, 50, -1]).config, 50)
    with pytest.raises(ConfigError, match="config.mdlm_token_types_skip is set but config.mdlm_token_types=None"):
        token_types(_tiny_bert(False, [4]).config, 50)


def test_punctuation_ids_are_the_tokens_without_letters_or_digits() -> None:
    from transformers import AutoTokenizer

    from lm_eval_mdlm.default_model import CHECKPOINT

    tokenizer = AutoTokenizer.from_pretrained(CHECKPOINT)
    skipped = {tokenizer.decode([i]) for i in punctuation_ids(tokenizer)}
    assert {'",', ' "', '["', '"]', "\n", "."} <= skipped
    assert not {"Sarah", " Morris", " the", "1"} & skipped
    assert not set(tokenizer.all_special_tokens) & skipped  # the mask token stays a word


def test_token_types_training_does_not_know_are_refused() -> None:
    from lm_eval_mdlm.config import ConfigError

    model = _tiny_bert(True)
    model.config.mdlm_token_types = "next"
    with pytest.raises(ConfigError, match="config.mdlm_token_types='next' is not a token-type convention the "
                                          "recipe knows; valid: 'previous'"):
        token_types(model.config, 50)


def test_the_engine_refuses_a_checkpoint_with_token_types() -> None:
    """The engine does not feed the channel, so decoding such a checkpoint would be silently wrong."""
    from lm_eval_mdlm.config import ConfigError
    from lm_eval_mdlm.families.base import Denoiser
    from lm_eval_mdlm.families.bert import MASKED_LM

    with pytest.raises(ConfigError, match="config.mdlm_token_types is set"):
        Denoiser(_tiny_bert(True), None, mask_id=1, eos_ids=(2,), pad_id=0, max_length=64, family=MASKED_LM)


def test_token_type_channel_is_saved_switched_and_refused_by_the_engine(tmp_path) -> None:
    """The research channel survives save/load, a later phase switches its punctuation skip list on, and the
    engine (which does not feed types) refuses such a checkpoint by name instead of decoding it wrongly."""
    from lm_eval_mdlm.config import ConfigError
    from lm_eval_mdlm.model import MDLM
    from research.default_model.recipe import RECIPE
    from research.default_model.train import build_model
    from tests.fixtures.tiny import build_tokenizer

    name_tokenizer = build_tokenizer()
    small = dict(hidden=32, layers=1, heads=2, intermediate=64, seed=0, previous_token_types=True)
    first = build_model(dataclasses.replace(RECIPE, **small), name_tokenizer)
    assert first.config.mdlm_token_types == "previous" and not hasattr(first.config, "mdlm_token_types_skip")
    first.save_pretrained(tmp_path / "phase1")
    recipe = dataclasses.replace(RECIPE, **small, init_from=str(tmp_path / "phase1"), types_skip_punctuation=True)
    second = build_model(recipe, name_tokenizer)
    assert second.config.mdlm_token_types_skip == punctuation_ids(name_tokenizer)
    second.save_pretrained(tmp_path / "phase2")
    name_tokenizer.save_pretrained(tmp_path / "phase2")
    with pytest.raises(ConfigError, match="config.mdlm_token_types is set: .* that the engine does not feed"):
        MDLM(pretrained=str(tmp_path / "phase2"))
