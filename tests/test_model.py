"""The ``mdlm`` lm-eval model on tiny real checkpoints: batching, requests, errors."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
from lm_eval.api.instance import Instance

from lm_eval_mdlm.config import ConfigError
from lm_eval_mdlm.model import MDLM

PROMPTS = ["hello world", "The quick brown fox jumps over the lazy dog. Question: what", "a",
           "Copy the list: [1, 2, 3]", "Alice Smith, Bob", "x y z", "Question: what is 12 plus 30?", "42"]

STRATEGIES = [
    {"strategy": "topk"},
    {"strategy": "topk", "score": "margin", "k": 3},
    {"strategy": "topk", "score": "entropy", "steps": 5, "block_length": 4},
    {"strategy": "topk", "score": "random", "seed": 7},
    {"strategy": "topk", "score": "left_to_right", "k": 2},
    {"strategy": "threshold", "threshold": 0.6},
    {"strategy": "threshold", "score": "margin", "threshold": 0.5, "block_length": 6},
    {"strategy": "factor", "factor": 1.0, "block_length": 5},
    {"strategy": "topk", "k": 2, "temperature": 1.0, "seed": 3},
    {"strategy": "eb", "entropy_bound": 1.0},
    {"strategy": "dilated", "block_length": 8},
    {"strategy": "klass", "klass_confidence": 0.5, "klass_kl": 0.05, "k": 2},
    {"strategy": "remdm", "remdm_variant": "conf", "remdm_eta": 0.5, "temperature": 1.0},
    {"strategy": "rcr", "steps": 6},
    {"strategy": "edit", "threshold": 0.6, "edit_threshold": 0.5, "block_length": 7},
]


def request(context: str, task: str = "t", doc_id: int = 0, **gen_kwargs) -> Instance:
    kwargs = {"until": ["\n\n"], "max_gen_toks": 13, **gen_kwargs}
    return Instance("generate_until", {}, (context, kwargs), 0, metadata=(task, doc_id, 1))


def generate(path: str, batch_size: int, **model_args):
    lm = MDLM(pretrained=path, batch_size=batch_size, **model_args)
    out = lm.generate_until([request(c, doc_id=i) for i, c in enumerate(PROMPTS)], disable_tqdm=True)
    return lm, out


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
@pytest.mark.parametrize("fixture", ["tiny_bert", "sharp_bert", "tiny_modernbert"])
def test_batch_size_never_changes_the_output(fixture: str, strategy: dict, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    runs, confidences = [], []
    for batch_size in (1, 3, 8):
        _, out = generate(path, batch_size, **strategy)
        runs.append([(str(o), o.trace["finalization_steps"], o.trace["nfe"]) for o in out])
        confidences.append([c for o in out for c in o.trace["commit_confidence"]])
    assert runs[0] == runs[1] == runs[2]
    # commit confidences are probabilities of the same tokens; the forward's logits may differ in their last
    # bits between batch compositions, which can flip the third decimal the traces keep
    for other in confidences[1:]:
        assert other == pytest.approx(confidences[0], abs=1.5e-3)


def test_sharp_model_commits_in_parallel_with_threshold(sharp_bert: str) -> None:
    _, out = generate(sharp_bert, 4, strategy="threshold", threshold=0.6)
    assert max(o.trace["metrics"]["afp"] for o in out) > 1.5


def test_until_and_max_gen_toks_are_honoured_per_request(tiny_bert: str) -> None:
    lm = MDLM(pretrained=tiny_bert, batch_size=4)
    reqs = [request("hello", max_gen_toks=5), request("hello", max_gen_toks=9), request("hello", until=["@"])]
    out = lm.generate_until(reqs, disable_tqdm=True)
    assert [o.trace["metrics"]["answer_tokens"] for o in out[:2]] == [5, 9]
    full = lm.generate_until([request("hello", until=[])], disable_tqdm=True)[0]
    assert "@" in full and str(out[2]) == full.split("@")[0]


def test_gen_kwargs_override_model_args(tiny_bert: str) -> None:
    lm = MDLM(pretrained=tiny_bert, strategy="topk", k=1)
    out = lm.generate_until([request("hi", k="4", max_gen_toks=12)], disable_tqdm=True)[0]
    assert out.trace["nfe"] == 3 and out.trace["config"]["k"] == 4
    # an explicit temperature wins over a task's do_sample=False (temperature alone decides sampling)
    sampled = lm.generate_until([request("hi", temperature=0.7, do_sample=False)], disable_tqdm=True)[0]
    assert sampled.trace["config"]["temperature"] == 0.7


def test_unsupported_gen_kwargs_are_an_error(tiny_bert: str) -> None:
    lm = MDLM(pretrained=tiny_bert)
    with pytest.raises(ConfigError, match=r"top_p.*not supported.*supported: until"):
        lm.generate_until([request("hi", top_p=0.9)], disable_tqdm=True)
    with pytest.raises(ConfigError, match=r"strategy='fast' is unknown; valid values: topk, threshold, factor, eb"):
        lm.generate_until([request("hi", strategy="fast")], disable_tqdm=True)


def test_traces_reach_model_info_and_trace_file(tiny_bert: str, tmp_path) -> None:
    path = tmp_path / "traces.jsonl"
    lm = MDLM(pretrained=tiny_bert, k=2, trace_path=str(path))
    lm.generate_until([request("a", task="t1", doc_id=3, max_gen_toks=12), request("b", task="t2", doc_id=5)],
                      disable_tqdm=True)
    info = lm.get_model_info()["mdlm"]
    assert set(info["decoding_traces"]) == {"t1", "t2"}
    assert info["decoding_traces"]["t1"]["afp"] == pytest.approx(2.0)
    assert info["decode_config"]["k"] == 2
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["task_name"], r["doc_id"]) for r in rows] == [("t1", 3), ("t2", 5)]
    assert len(rows[0]["finalization_steps"]) == rows[0]["metrics"]["answer_tokens"]


def test_chat_template_is_applied(tiny_bert: str) -> None:
    lm = MDLM(pretrained=tiny_bert)
    text = lm.apply_chat_template([{"role": "user", "content": "hi"}])
    assert text == "<user>hi\n<assistant>"
    assert lm.chat_template(True) and lm.tokenizer_name


def test_long_prompts_are_truncated_from_the_left_with_a_warning(tiny_bert: str, caplog) -> None:
    lm = MDLM(pretrained=tiny_bert, max_length=40)
    with caplog.at_level(logging.WARNING):
        out = lm.generate_until([request("word " * 100, max_gen_toks=8)], disable_tqdm=True)
    assert "truncating the prompt from the left to 32 tokens" in caplog.text
    assert out[0].trace["metrics"]["answer_tokens"] == 8
    with pytest.raises(ValueError, match="max_gen_toks=40 leaves no room"):
        lm.generate_until([request("x", max_gen_toks=40)], disable_tqdm=True)


def test_missing_path_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder"):
        MDLM(pretrained=str(tmp_path / "nope"))


def test_causal_model_is_refused(tmp_path) -> None:
    import transformers

    from tests.fixtures.tiny import build_tokenizer

    tok = build_tokenizer()
    transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=1, n_head=2)) \
        .save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"causal \(left-to-right\).*'gpt2'.*--model hf"):
        MDLM(pretrained=str(tmp_path))


def test_mask_token_is_required_and_checked(tiny_bert: str, tmp_path) -> None:
    from transformers import AutoTokenizer

    folder = tmp_path / "nomask"
    shutil.copytree(tiny_bert, folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.mask_token = None
    tok.save_pretrained(folder)
    with pytest.raises(ValueError, match=r"has no mask token and no mask_id was given.*mask_id="):
        MDLM(pretrained=str(folder))
    assert MDLM(pretrained=str(folder), mask_id=4).denoiser.mask_id == 4
    with pytest.raises(ValueError, match=r"mask_id=99999 lies outside the model's vocabulary \[0, \d+\)"):
        MDLM(pretrained=tiny_bert, mask_id=99999)


@pytest.mark.parametrize(("args", "message"), [
    ({"strategy": "beam"},
     "strategy='beam' is unknown; valid values: topk, threshold, factor, eb, dilated, klass, remdm, rcr, edit"),
    ({"score": "logit"}, "score='logit' is unknown; valid values: confidence, margin, entropy, random, left_to_right"),
    ({"k": "0"}, "k=0 is invalid: .* integer >= 1"),
    ({"threshold": "1.5", "strategy": "threshold"}, r"threshold=1.5 is invalid: it must lie in \(0, 1\]"),
    ({"factor": "0"}, "factor=0.0 is invalid: it must be > 0"),
    ({"steps": "0"}, "steps=0 is invalid: steps must be an integer >= 1"),
    ({"temperature": "-1"}, "temperature=-1.0 is invalid: it must be >= 0"),
    ({"block_length": "0"}, "block_length=0 is invalid"),
    ({"k": "2", "steps": "4"}, "k=2 and steps=4 both set"),
    ({"strategy": "threshold", "score": "entropy"},
     "score=entropy cannot be used; choose score from confidence, margin"),
    ({"strategy": "threshold", "k": "2"}, "k=2 has no effect with strategy=threshold"),
    ({"bogus": "1"}, "unknown decoding option bogus='1'; valid options: strategy, score"),
    ({"k": "two"}, "k='two' is invalid: it must be an integer"),
    ({"dtype": "int8"}, "dtype='int8' is unknown; valid values: auto, bfloat16"),
    ({"strategy": "eb", "entropy_bound": "-1"}, "entropy_bound=-1.0 is invalid: it must be >= 0"),
    ({"strategy": "eb", "k": "2"}, "k=2 has no effect with strategy=eb.*topk, klass, remdm, rcr"),
    ({"strategy": "klass", "klass_confidence": "0"}, r"klass_confidence=0.0 is invalid: it must lie in \(0, 1\]"),
    ({"strategy": "klass", "klass_history": "-1"}, "klass_history=-1 is invalid: it must be an integer >= 0"),
    ({"strategy": "remdm", "remdm_variant": "loop"},
     "remdm_variant='loop' is unknown; valid values: cap, rescale, conf"),
    ({"strategy": "remdm", "remdm_t_on": "0.2", "remdm_t_off": "0.5"}, "need 0 <= remdm_t_off <= remdm_t_on <= 1"),
    ({"strategy": "edit", "edit_threshold": "2"}, r"edit_threshold=2.0 is invalid"),
    ({"strategy": "edit", "max_edit_steps": "-2"}, "max_edit_steps=-2 is invalid"),
    ({"strategy": "edit", "score": "random"}, "strategy=edit compares scores with a probability"),
])
def test_bad_model_args_give_one_clear_error(tiny_bert: str, args: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MDLM(pretrained=tiny_bert, **args)


def test_auto_batch_size_matches_fixed_batches(tiny_bert: str) -> None:
    lm, out = generate(tiny_bert, "auto", max_batch_size=4)
    assert lm._batch_size(13, 20) == 4
    _, fixed = generate(tiny_bert, 1)
    assert [str(o) for o in out] == [str(o) for o in fixed]


def test_a_tasks_own_seed_in_gen_kwargs_seeds_its_samples(tiny_bert: str) -> None:
    """--gen_kwargs seed=s draws exactly what model_args seed=s draws (and differs from another seed)."""
    sampled = {"temperature": 1.0}
    lm = MDLM(pretrained=tiny_bert, batch_size=4, **sampled)
    per_request = [str(o) for o in lm.generate_until([request(c, doc_id=i, seed=5) for i, c in enumerate(PROMPTS)],
                                                     disable_tqdm=True)]
    _, model_seed = generate(tiny_bert, 4, seed=5, **sampled)
    _, other_seed = generate(tiny_bert, 4, seed=6, **sampled)
    assert per_request == [str(o) for o in model_seed] != [str(o) for o in other_seed]
