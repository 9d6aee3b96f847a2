"""``preset=``: published settings applied under explicit arguments, written into results, clear errors."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from lm_eval_mdlm.config import ConfigError, DecodeConfig
from lm_eval_mdlm.model import MDLM
from lm_eval_mdlm.presets import PRESETS, pick
from tests.test_model import request


def _long(folder: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of a rotary-position fixture with 1,024 positions, room for a preset's 256-token answers."""
    copy = tmp_path_factory.mktemp("long") / Path(folder).name
    shutil.copytree(folder, copy)
    config = json.loads((copy / "config.json").read_text())
    key = "max_sequence_length" if "max_sequence_length" in config else "max_position_embeddings"  # LLaDA's name
    (copy / "config.json").write_text(json.dumps({**config, key: 1024}))
    return str(copy)


@pytest.fixture(scope="module")
def long_llada(tiny_llada: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return _long(tiny_llada, tmp_path_factory)


@pytest.fixture(scope="module")
def long_dream(tiny_dream: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return _long(tiny_dream, tmp_path_factory)


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


def test_explicit_arguments_win_and_the_preset_is_recorded(long_llada: str) -> None:
    lm = MDLM(pretrained=long_llada, preset="llada-1.5", block_length="8", max_length=1024)
    assert (lm.config.strategy, lm.config.score, lm.config.block_length) == ("topk", "confidence", 8)
    record = lm.get_model_info()["mdlm"]["preset"]
    assert record["name"] == "llada-1.5" and record["overridden"] == ["block_length"] and record["gen_length"] == 256
    out = lm.generate_until([request("hello", max_gen_toks=13)], disable_tqdm=True)[0]
    assert out.trace["config"]["max_gen_toks"] == 256  # the published answer length, over the task's 13
    own = MDLM(pretrained=long_llada, preset="llada-1.5", max_gen_toks="16", max_length=1024)
    assert own.get_model_info()["mdlm"]["preset"]["gen_length"] is None
    assert own.generate_until([request("hello", max_gen_toks=13)], disable_tqdm=True)[0].trace["config"][
        "max_gen_toks"] == 13


def test_auto_on_a_family_and_no_preset(long_dream: str, tiny_bert: str) -> None:
    lm = MDLM(pretrained=long_dream, preset="auto", max_length=1024)
    assert lm.get_model_info()["mdlm"]["preset"]["name"] == "dream"
    assert (lm.config.score, lm.config.temperature) == ("entropy", 0.1)
    plain = MDLM(pretrained=tiny_bert)
    assert plain.get_model_info()["mdlm"]["preset"] is None and plain.config == DecodeConfig()
