"""The strategy registry: every strategy is one module of ``lm_eval_mdlm/decoding/strategies/``, and what the
config, the loop, the report and README's table know about it comes from that module's declaration."""

from __future__ import annotations

import inspect
import json
import math
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from lm_eval_mdlm import arguments
from lm_eval_mdlm.config import SHARED_FIELDS, ConfigError, DecodeConfig, config_warnings
from lm_eval_mdlm.decoding import loop, strategies
from lm_eval_mdlm.decoding.strategies.base import Sampler
from lm_eval_mdlm.model import MDLM
from lm_eval_mdlm.report import settings

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "lm_eval_mdlm" / "decoding" / "strategies"
HELPERS = {"__init__", "base", "spec"}
"""Modules of the package that are not strategies (shared pieces)."""


def test_every_strategy_module_is_registered() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - HELPERS
    registered = {_module_of(name) for name in strategies.REGISTRY}
    assert modules == registered
    assert list(strategies.REGISTRY)[:3] == ["topk", "threshold", "factor"]  # listing order: topk (default) first
    assert set(loop.ENGINE_SAMPLERS) == {n for n, s in strategies.REGISTRY.items() if s.sampler is not None}
    assert all(issubclass(cls, Sampler) for cls in loop.ENGINE_SAMPLERS.values())


def _module_of(name: str) -> str:
    """The module that declares strategy ``name`` (its ``STRATEGY``)."""
    for path in PACKAGE.glob("*.py"):
        if path.stem not in HELPERS and f'Strategy("{name}"' in path.read_text(encoding="utf-8"):
            return path.stem
    raise AssertionError(f"no module declares strategy {name}")


def test_knobs_are_config_fields_with_their_declared_defaults() -> None:
    config_fields = {f.name: f for f in fields(DecodeConfig)}
    for name, knob in strategies.KNOBS.items():
        assert config_fields[name].default == knob.default and config_fields[name].type == knob.kind
        assert getattr(DecodeConfig(), name) == knob.default
    assert set(config_fields) == set(SHARED_FIELDS) | set(strategies.KNOBS)


def _bad_values(knob: strategies.Knob) -> list[object]:
    """Values validation must refuse: a wrong type, non-finite (where not a bound), outside the range/choices."""
    bad: list[object] = {"int": [1.5, "x"], "float": ["x", math.nan], "str": [3]}[knob.kind]
    if knob.kind == "float" and not knob.unbounded:
        bad.append(math.inf)
    if knob.choices:
        bad.append("bogus")
    if knob.low is not None:
        bad.append(knob.low if knob.low_open else knob.low - 1)
    if knob.high is not None:
        bad.append(knob.high + 1)
    return bad


@pytest.mark.parametrize("name", list(strategies.KNOBS))
def test_a_bad_knob_value_is_refused_naming_the_knob(name: str) -> None:
    knob = strategies.KNOBS[name]
    owner = next(s for s in strategies.REGISTRY.values() if knob in s.knobs)
    for value in _bad_values(knob):
        with pytest.raises(ConfigError, match=f"{name}="):
            DecodeConfig(strategy=owner.name, **{name: value})


def test_remdm_window_and_psd_cross_checks_come_from_their_modules() -> None:
    with pytest.raises(ConfigError, match=r"remdm_t_on=2.0 are invalid"):
        DecodeConfig(strategy="remdm", remdm_t_on=2.0)
    with pytest.raises(ConfigError, match="psd_accept=lossless .* set psd_policy=top1"):
        DecodeConfig(strategy="psd", psd_accept="lossless")
    with pytest.raises(ConfigError, match="strategy=psd compares scores with a probability"):
        DecodeConfig(strategy="psd", score="entropy")
    assert DecodeConfig(strategy="psd", psd_policy="top1", score="entropy").score == "entropy"


def test_budget_kind_decides_k_and_steps_and_the_report_reads_it() -> None:
    for name, spec in strategies.REGISTRY.items():
        if spec.quota or spec.sampler is None:
            assert DecodeConfig(strategy=name, k=2).k == 2
        else:
            with pytest.raises(ConfigError, match=f"k=2 has no effect with strategy={name}"):
                DecodeConfig(strategy=name, k=2)
    # what the report hard-coded before the registry (a new strategy may add to these)
    assert settings.QUOTA_STRATEGIES[:4] == ("topk", "klass", "remdm", "rcr")
    assert settings.PRIMARY_KNOB.items() >= {"threshold": "threshold", "factor": "factor", "eb": "entropy_bound",
                                             "edit": "threshold"}.items()
    assert "psd" not in settings.PRIMARY_KNOB and "klass" not in settings.PRIMARY_KNOB
    assert settings.PARALLEL_DIRECTION.items() >= {"k": 1, "steps": -1, "threshold": -1, "factor": 1,
                                                   "entropy_bound": 1}.items()


def test_ignored_knobs_come_from_the_registry() -> None:
    """A knob is read by its owner and by the strategies that list it in ``reads`` (psd reads threshold)."""
    assert config_warnings(DecodeConfig(strategy="psd", threshold=0.7), None) == []
    assert config_warnings(DecodeConfig(strategy="edit", threshold=0.7), None) == []
    message = config_warnings(DecodeConfig(strategy="eb", threshold=0.7, psd_depth=2, score="margin"), None)
    assert message == ["strategy=eb ignores threshold=0.7, psd_depth=2, score='margin': drop them, or choose a "
                       "strategy that uses them (README, Strategies)"]


def test_readme_table_is_the_generated_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("| argument | default | meaning |")
    table = readme[start:readme.index("\n\n", start) + 1]
    expected = arguments.markdown_table()
    assert table == expected, ("README's argument table differs from the generated one; regenerate it with "
                               f"`python -m lm_eval_mdlm.arguments --write README.md`:\n{expected}")
    assert len(readme.encode()) <= 10_000


def test_the_table_documents_every_model_argument_and_decoding_field() -> None:
    documented = arguments.documented_names()
    model_args = {n for n in inspect.signature(MDLM.__init__).parameters if n not in ("self", "decode_args")}
    assert model_args - documented == set()
    assert {f.name for f in fields(DecodeConfig)} - documented == set()


HALFWAY = '''\
"""``halfway``: commit the better half (``halfway_share``) of the block's masked positions each step."""

from __future__ import annotations

import torch

from lm_eval_mdlm.decoding.rules import StepView, select_topk
from lm_eval_mdlm.decoding.strategies.base import Decision, Sampler, StepContext
from lm_eval_mdlm.decoding.strategies.spec import Knob, Strategy

SHARE = Knob("halfway_share", "float", 0.5, "share of the masked positions committed per step", low=0.0,
             high=1.0, low_open=True, parallel=1)


class Halfway(Sampler):
    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        quota = torch.ceil(ctx.candidates.sum(-1) * self.cfg.halfway_share).long()
        return Decision(select_topk(self.score(view), ctx.candidates, quota))


STRATEGY = Strategy("halfway", "the best share of the masked positions per step", Halfway, knobs=(SHARE,),
                    primary="halfway_share")
'''

SCRIPT = '''\
import json, sys
from lm_eval.api.instance import Instance
from lm_eval_mdlm import arguments
from lm_eval_mdlm.config import SHARED_FIELDS, ConfigError, DecodeConfig, config_warnings
from lm_eval_mdlm.model import MDLM
from lm_eval_mdlm.report.settings import PRIMARY_KNOB

def run(**knobs):
    lm = MDLM(pretrained=sys.argv[1], device="cpu", batch_size=2, **knobs)
    requests = [Instance("generate_until", {}, (p, {"until": [], "max_gen_toks": 8}), i, metadata=("t", i, 1))
                for i, p in enumerate(["hello", "Copy the list: [1, 2, 3]", "Alice"])]
    return [[str(o), o.trace["nfe"]] for o in lm.generate_until(requests, disable_tqdm=True)]

try:
    DecodeConfig(strategy="halfway", halfway_share=0.0)
    refused = ""
except ConfigError as error:
    refused = str(error)
print(json.dumps({"module": DecodeConfig.__module__, "share": DecodeConfig(strategy="halfway").halfway_share,
                  "refused": refused, "row": [r for r in arguments.markdown_table().splitlines() if "halfway" in r],
                  "warning": config_warnings(DecodeConfig(halfway_share=0.25), None), "primary": PRIMARY_KNOB,
                  "half": run(strategy="halfway"), "one": run(strategy="halfway", halfway_share=1e-9),
                  "k1": run(k=1), "all": run(strategy="halfway", halfway_share=1.0), "k8": run(k=8)}))
'''


def test_one_file_adds_a_strategy(tmp_path: Path, tiny_bert: str) -> None:
    """Drop one module into a copy of the package: DecodeConfig, its validation, the warnings, the report, README's
    table and a real decode through the model on the tiny checkpoint all pick it up, with no other edit."""
    copy = tmp_path / "lm_eval_mdlm"
    shutil.copytree(ROOT / "lm_eval_mdlm", copy, ignore=shutil.ignore_patterns("__pycache__", "checkpoint"))
    (copy / "decoding" / "strategies" / "halfway.py").write_text(HALFWAY, encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", SCRIPT, tiny_bert], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "OMP_NUM_THREADS": "1",
                                             "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["module"] == "lm_eval_mdlm.config" and out["share"] == 0.5
    assert out["refused"].startswith("halfway_share=0.0 is invalid: it must lie in (0, 1]")
    assert "`psd`, `halfway` ([docs/strategies.md]" in out["row"][0]  # the strategy row lists it, last
    assert out["row"][1] == "| `halfway_share` | 0.5 | halfway: share of the masked positions committed per step |"
    assert out["warning"][0].startswith("strategy=topk ignores halfway_share=0.25")
    assert out["primary"]["halfway"] == "halfway_share"
    # closed forms: a vanishing share commits one token per step (= k=1), share 1 the whole block (= k=8)
    assert out["one"] == out["k1"] and out["all"] == out["k8"] and all(nfe == 1 for _, nfe in out["all"])
    # no row stops early at an EOS (k=1 takes all 8 forwards), so halving 8 masks takes 4, 2, 1, 1: 4 forwards
    assert [nfe for _, nfe in out["k1"]] == [8] * 3 and [nfe for _, nfe in out["half"]] == [4] * 3
