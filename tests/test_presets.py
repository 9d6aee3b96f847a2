"""``preset=``: published settings applied under explicit arguments, written into results, clear errors."""

from __future__ import annotations

import logging

import pytest

from lm_eval_mdlm.config import ConfigError, DecodeConfig
from lm_eval_mdlm.model import MDLM
from lm_eval_mdlm.presets import PRESETS, pick
from tests.test_model import request


def test_every_preset_is_a_valid_config_with_a_source() -> None:
    for preset in PRESETS.values():
        DecodeConfig(**preset.settings)  # raises on a bad knob
        assert preset.source and ("github:" in preset.source or "docs" in preset.source)


def test_unknown_preset_fails_before_loading_and_lists_them() -> None:
    with pytest.raises(ConfigError, match=r"preset='llada3' is unknown; valid presets: auto, llada, llada-1.5, dream"):
        MDLM(pretrained="/no/such/model", preset="llada3")
    with pytest.raises(ConfigError, match=r"k=2 has no effect with strategy=threshold.*preset=fast-dllm sets"):
        MDLM(pretrained="/no/such/model", preset="fast-dllm", k="2")  # the combination fails before loading too


def test_auto_picks_by_name_then_family(caplog: pytest.LogCaptureFixture) -> None:
    assert pick("auto", "llada", "GSAI-ML/LLaDA-1.5").name == "llada-1.5"
    assert pick("auto", "llada", "GSAI-ML/LLaDA-8B-Instruct").name == "llada"
    assert pick("auto", "dream", "apple/DiffuCoder-7B-Instruct").name == "diffucoder"
    assert pick("auto", "llada2", "inclusionAI/LLaDA2.1-mini").name == "llada2.1"
    assert pick("auto", "sdar", "Gen-Verse/TraDo-8B-Instruct").name == "trado"
    assert pick("auto", "dream", "/models/my-checkpoint").name == "dream"
    with caplog.at_level(logging.WARNING):
        assert pick("auto", "masked_lm", "/models/bert") is None
    assert "no published settings" in caplog.text


def test_explicit_arguments_win_and_the_preset_is_recorded(tiny_llada: str) -> None:
    lm = MDLM(pretrained=tiny_llada, preset="llada-1.5", block_length="8", max_length=1024)
    assert (lm.config.strategy, lm.config.score, lm.config.block_length) == ("topk", "confidence", 8)
    record = lm.get_model_info()["mdlm"]["preset"]
    assert record["name"] == "llada-1.5" and record["overridden"] == ["block_length"] and record["gen_length"] == 256
    out = lm.generate_until([request("hello", max_gen_toks=13)], disable_tqdm=True)[0]
    assert out.trace["config"]["max_gen_toks"] == 256  # the published answer length, over the task's 13
    own = MDLM(pretrained=tiny_llada, preset="llada-1.5", max_gen_toks="16", max_length=1024)
    assert own.get_model_info()["mdlm"]["preset"]["gen_length"] is None
    assert own.generate_until([request("hello", max_gen_toks=13)], disable_tqdm=True)[0].trace["config"][
        "max_gen_toks"] == 13


def test_auto_on_a_family_and_no_preset(tiny_dream: str, tiny_bert: str) -> None:
    lm = MDLM(pretrained=tiny_dream, preset="auto", max_length=1024)
    assert lm.get_model_info()["mdlm"]["preset"]["name"] == "dream"
    assert (lm.config.score, lm.config.temperature) == ("entropy", 0.1)
    plain = MDLM(pretrained=tiny_bert)
    assert plain.get_model_info()["mdlm"]["preset"] is None and plain.config == DecodeConfig()
