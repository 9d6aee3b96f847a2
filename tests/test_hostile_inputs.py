"""Bad values as a hostile new user types them: each gives one clear error that names the value, or a
documented behaviour (README, "Model arguments": every bad value gives one error that names it).

Decoding knobs go through ``coerce`` + ``DecodeConfig`` (the path ``--model_args`` and ``--gen_kwargs``
take); model arguments through ``MDLM`` on a real tiny checkpoint; per-request ``gen_kwargs`` through
``generate_until``; the project's CLI through ``lm_eval_mdlm.cli.main``.
"""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance

from lm_eval_mdlm.cli import main as cli_main
from lm_eval_mdlm.config import ConfigError, DecodeConfig, coerce
from lm_eval_mdlm.model import MDLM
from lm_eval_mdlm.report.sweep import SweepError, parse_grid

# (knobs as the CLI hands them over: strings, or floats where lm-eval's parser makes them floats; message)
KNOB_CASES = [
    ({"strategy": "remdm", "remdm_variant": "rescale", "remdm_eta": "inf"}, r"remdm_eta=inf is invalid: .*finite"),
    ({"temperature": "inf"}, r"temperature=inf is invalid: it must be a finite number"),
    ({"temperature": "nan"}, r"temperature=nan is invalid"),
    ({"temperature": "-1"}, r"temperature=-1.0 is invalid: it must be >= 0"),
    ({"seed": 1.5}, r"seed=1.5 is invalid: it must be an integer"),
    ({"seed": "abc"}, r"seed='abc' is invalid: it must be an integer"),
    ({"k": "0"}, r"k=0 is invalid: .*integer >= 1"),
    ({"k": 2.5}, r"k=2.5 is invalid: it must be an integer"),
    ({"steps": "0"}, r"steps=0 is invalid: steps must be an integer >= 1"),
    ({"strategy": "threshold", "threshold": "0"}, r"threshold=0.0 is invalid: it must lie in \(0, 1\]"),
    ({"strategy": "threshold", "threshold": "1.5"}, r"threshold=1.5 is invalid"),
    ({"strategy": "threshold", "threshold": "nan"}, r"threshold=nan is invalid"),
    ({"strategy": "factor", "factor": "0"}, r"factor=0.0 is invalid: it must be > 0"),
    ({"strategy": "factor", "factor": "nan"}, r"factor=nan is invalid: it must be a number or inf"),
    ({"block_length": "0"}, r"block_length=0 is invalid: it must be an integer >= 1"),
    ({"strategy": "fast"}, r"strategy='fast' is unknown; valid values: topk, threshold"),
    ({"score": "bogus"}, r"score='bogus' is unknown; valid values: confidence"),
    ({"cache": "prefix"}, r"cache=prefix .* needs block_length"),
    ({"strategy": "eb", "entropy_bound": "-1"}, r"entropy_bound=-1.0 is invalid: it must be >= 0"),
    ({"strategy": "klass", "klass_confidence": "0"}, r"klass_confidence=0.0 is invalid: it must lie in \(0, 1\]"),
    ({"strategy": "klass", "klass_history": "-1"}, r"klass_history=-1 is invalid: it must be an integer >= 0"),
    ({"strategy": "remdm", "remdm_t_off": "0.9", "remdm_t_on": "0.1"}, r"need 0 <= remdm_t_off <= remdm_t_on"),
    ({"strategy": "edit", "edit_threshold": "2"}, r"edit_threshold=2.0 is invalid: it must lie in \[0, 1\]"),
    ({"strategy": "edit", "max_edit_steps": 1.5}, r"max_edit_steps=1.5 is invalid: it must be an integer"),
    ({"foo": "1"}, r"unknown decoding option foo='1'; valid options: strategy"),
    ({"k": "1", "steps": "2"}, r"k=1 and steps=2 both set: give one of them"),
    ({"strategy": "threshold", "k": "2"}, r"k=2 has no effect with strategy=threshold"),
    ({"strategy": "threshold", "score": "random"}, r"score=random cannot be used"),
    ({"max_gen_toks": "0"}, r"max_gen_toks=0 is invalid: it must be an integer >= 1"),
]


@pytest.mark.parametrize(("knobs", "message"), KNOB_CASES, ids=[",".join(map(str, k.items())) for k, _ in KNOB_CASES])
def test_bad_knob_is_one_error_naming_it(knobs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DecodeConfig(**coerce(knobs))


def test_inf_is_allowed_where_it_means_no_bound() -> None:
    """Documented: factor, entropy_bound and klass_kl take inf ("no bound": KLASS becomes threshold)."""
    assert DecodeConfig(**coerce({"strategy": "klass", "klass_kl": "inf"})).klass_kl == math.inf


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory, tiny_bert: str) -> dict[str, str]:
    """Checkpoint folders damaged the ways users damage them."""
    root = tmp_path_factory.mktemp("broken")
    folders = {name: root / name for name in ("empty", "bad_weights", "bad_config")}
    folders["empty"].mkdir()
    for name in ("bad_weights", "bad_config"):
        shutil.copytree(tiny_bert, folders[name])
    (folders["bad_weights"] / "model.safetensors").write_bytes(b"\x00" * 40)
    (folders["bad_config"] / "config.json").write_text('{"model_type": "bert",')
    return {name: str(path) for name, path in folders.items()}


# (model arguments, message); "tiny" is replaced by the tiny checkpoint, "broken:<name>" by a damaged one
MODEL_CASES = [
    ({"max_length": "0"}, r"max_length='0' is invalid: it must be an integer >= 2; it is the prompt"),
    ({"max_length": "-1"}, r"max_length='-1' is invalid: it must be an integer >= 2"),
    ({"max_length": "abc"}, r"max_length='abc' is invalid: it must be an integer"),
    ({"max_length": "100000"}, r"max_length=100000 exceeds the model's 512 positions"),
    ({"mask_id": "abc"}, r"mask_id='abc' is invalid: it must be an integer >= 0; it is the id of the token"),
    ({"mask_id": "2"}, r"mask_id=2 is also an end-of-sequence id"),
    ({"mask_id": "0"}, r"mask_id=0 is also the padding id"),
    ({"mask_id": "100000"}, r"mask_id=100000 lies outside the model's vocabulary"),
    ({"max_batch_size": "abc"}, r"max_batch_size='abc' is invalid: it must be an integer >= 1"),
    ({"threads": "0"}, r"threads='0' is invalid: it must be an integer >= 1; it is the number of CPU threads"),
    ({"threads": "-1"}, r"threads='-1' is invalid"),
    ({"trust_remote_code": "maybe"}, r"trust_remote_code='maybe' is invalid: it must be a boolean"),
    ({"add_bos_token": "maybe"}, r"add_bos_token='maybe' is invalid: it must be a boolean"),
    ({"batch_size": "auto:x"}, r"batch_size='auto:x' is invalid: use an integer >= 1 .*auto or auto:N"),
    ({"batch_size": "0"}, r"batch_size='0' is invalid"),
    ({"mc_num": 2.7}, r"mc_num=2.7 is invalid: it must be an integer >= 1"),
    ({"likelihood_batch_size": "0"}, r"likelihood_batch_size='0' is invalid"),
    ({"dtype": "float8"}, r"dtype='float8' is unknown; valid values: auto"),
    ({"family": "bogus"}, r"family='bogus' is unknown; valid values: llada"),
    ({"family": "llada"}, r"family=llada cannot load pretrained=.*Leave family out"),
    ({"pretrained": "broken:empty"}, r"has no config.json: a model folder holds config.json"),
    ({"pretrained": "broken:bad_weights"}, r"bad_weights/model.safetensors is not a readable safetensors file"),
    ({"pretrained": "broken:bad_config"}, r"bad_config/config.json is not valid JSON"),
    ({"pretrained": "/nonexistent/model"}, r"pretrained='/nonexistent/model': no such folder"),
    ({"strategy": "topk", "remdm_eta": "inf"}, r"remdm_eta=inf is invalid"),
]


@pytest.mark.parametrize(("args", "message"), MODEL_CASES, ids=[",".join(map(str, a.items())) for a, _ in MODEL_CASES])
def test_bad_model_argument_is_one_error_naming_it(args: dict, message: str, tiny_bert: str,
                                                   broken: dict[str, str]) -> None:
    args = dict(args)
    pretrained = args.pop("pretrained", tiny_bert)
    pretrained = broken[pretrained.split(":")[1]] if pretrained.startswith("broken:") else pretrained
    with pytest.raises((ConfigError, ValueError, FileNotFoundError), match=message):
        MDLM(pretrained=pretrained, device="cpu", **args)


def test_trace_path_directory_fails_before_loading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"trace_path=.* is a directory; give a file path"):
        MDLM(pretrained="/nonexistent/never/loaded", trace_path=str(tmp_path))


def request(context: str = "hi", **gen_kwargs: object) -> Instance:
    return Instance("generate_until", {}, (context, {"until": [], "max_gen_toks": 4, **gen_kwargs}), 0,
                    metadata=("hostile", 0, 1))


GEN_CASES = [
    ({"max_gen_toks": 2.7}, r"max_gen_toks=2.7 is invalid: it must be an integer >= 1"),
    ({"max_gen_toks": 0}, r"max_gen_toks=0 is invalid"),
    ({"max_gen_toks": 600}, r"max_gen_toks=600 leaves no room for the prompt"),
    ({"do_sample": "maybe"}, r"do_sample='maybe' is invalid: it must be a boolean"),
    ({"top_p": 0.9}, r"top_p are not supported by --model mdlm"),
    ({"temperature": "inf"}, r"temperature=inf is invalid"),
]


@pytest.mark.parametrize(("gen_kwargs", "message"), GEN_CASES, ids=[str(g) for g, _ in GEN_CASES])
def test_bad_gen_kwargs_are_one_error_naming_them(gen_kwargs: dict, message: str, tiny_bert: str) -> None:
    lm = MDLM(pretrained=tiny_bert, device="cpu")
    with pytest.raises(ConfigError, match=message):
        lm.generate_until([request(**gen_kwargs)], disable_tqdm=True)


def test_model_args_win_over_lm_evals_flags(tiny_bert: str, caplog: pytest.LogCaptureFixture) -> None:
    """Documented: batch_size= / device= in --model_args (README lists them) override lm-eval's flags."""
    with caplog.at_level(logging.WARNING):
        lm = MDLM.create_from_arg_string(f"pretrained={tiny_bert},batch_size=4,device=cpu",
                                         {"batch_size": 1, "device": "cpu", "max_batch_size": None})
    assert lm.batch_size_arg == "4"
    assert "batch_size=4 in --model_args overrides lm-eval's --batch_size 1" in caplog.text


def test_knobs_the_strategy_ignores_are_warned_about_once(tiny_bert: str, caplog: pytest.LogCaptureFixture) -> None:
    lm = MDLM(pretrained=tiny_bert, device="cpu", strategy="topk", threshold=0.5, remdm_eta=0.2)
    with caplog.at_level(logging.WARNING):
        lm.generate_until([request("a"), request("b")], disable_tqdm=True)
        lm.generate_until([request("c")], disable_tqdm=True)
    warnings = [r.message for r in caplog.records if "ignores" in r.message]
    assert warnings == ["strategy=topk ignores threshold=0.5, remdm_eta=0.2: drop them, or choose a strategy that "
                        "uses them (README, Strategies)"]


def test_do_sample_without_temperature_is_warned_about(tiny_bert: str, caplog: pytest.LogCaptureFixture) -> None:
    lm = MDLM(pretrained=tiny_bert, device="cpu")
    with caplog.at_level(logging.WARNING):
        out = lm.generate_until([request(do_sample=True)], disable_tqdm=True)[0]
    assert out.trace["config"]["temperature"] == 0.0
    assert "do_sample=True but temperature=0: decoding greedily" in caplog.text


def test_batch_size_auto_n_is_lm_evals_auto(tiny_bert: str) -> None:
    """Documented: lm-eval's auto:N is accepted and probed once, as auto."""
    assert MDLM(pretrained=tiny_bert, device="cpu", batch_size="auto:4").batch_size_arg == "auto:4"


def test_sweep_grid_with_a_key_twice_is_refused() -> None:
    with pytest.raises(SweepError, match=r"--grid 'k=1 k=2' gives k twice; list its values once"):
        parse_grid(["k=1 k=2"])


@pytest.mark.parametrize(("argv", "message"), [
    (["bogus"], "invalid choice: 'bogus'"),
    ([], "the following arguments are required: command"),
    (["report", "some_folder", "--correct_at", "nan"], "'nan' is not a finite number"),
    (["sweep", "--tasks", "t", "--output_path", "unused", "--grid", "k=1 k=2", "--dry_run"], "gives k twice"),
])
def test_bad_cli_usage_exits_2_with_the_reason(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    try:
        code = cli_main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["sweep", "--help"], ["report", "--help"]])
def test_help_exits_zero_at_every_level(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main(argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lm-eval-mdlm")
    if argv == ["--help"]:
        assert all(name in out for name in ("sweep", "report"))
