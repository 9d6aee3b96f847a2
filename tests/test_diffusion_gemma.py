"""DiffusionGemma behind ``--model mdlm``: its own ``generate()`` as ``strategy=generate``, with traces.

The checkpoint is a tiny random-weight ``DiffusionGemmaForBlockDiffusion`` saved by transformers
(canvas_length 8) with Gemma 4's special-token strings. Traces are checked against a recomputation
written here from the streamer protocol in transformers' source (``put_draft(value=argmax canvas)``
after every denoising step, ``put`` after every canvas), not with the adapter's own helpers.
"""

from __future__ import annotations

import json

import pytest
import torch

from lm_eval_mdlm.config import ConfigError
from lm_eval_mdlm.decoding.decoder import EngineDecoder
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.families import FAMILIES, detect_family, load_denoiser
from lm_eval_mdlm.families.diffusion_gemma import DiffusionGemmaDecoder, row_seed
from tests.fixtures.diffusion_gemma import build_tiny_diffusion_gemma
from lm_eval_mdlm.model import MDLM

from test_model import PROMPTS, request


@pytest.fixture(scope="module")
def tiny_gemma(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_tiny_diffusion_gemma(str(tmp_path_factory.mktemp("tiny_diffusion_gemma")))


def generate(path: str, batch_size: int = 1, max_gen_toks: int = 13, **model_args):
    lm = MDLM(pretrained=path, batch_size=batch_size, device="cpu", **model_args)
    out = lm.generate_until([request(c, doc_id=i, max_gen_toks=max_gen_toks) for i, c in enumerate(PROMPTS)],
                            disable_tqdm=True)
    return lm, out


class Drafts:
    """Every draft of one row, grouped by canvas (the streamer protocol of transformers' generate())."""

    def __init__(self) -> None:
        self.canvases: list[list[list[int]]] = []
        self.current: list[list[int]] = []

    def put(self, value: torch.Tensor) -> None:
        if self.current:
            self.canvases.append(self.current)
            self.current = []

    def put_draft(self, value: torch.Tensor) -> None:
        self.current.append(value[0].tolist())

    def end(self) -> None:
        assert not self.current


def recompute(lm: MDLM, context: str, key: int, max_gen_toks: int) -> tuple[list[int], list[int], int, int]:
    """(answer up to its EOS, finalization steps, NFE, new tokens generate returned) for one request, by
    running the model's generate() with the row's seed and comparing consecutive drafts by hand."""
    bos = lm.tokenizer.convert_tokens_to_ids("<bos>")
    ids = [bos] + lm.tok_encode(context)
    drafts = Drafts()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(row_seed(key, 0))
        out = lm.denoiser.model.generate(torch.tensor([ids]), streamer=drafts, max_new_tokens=max_gen_toks,
                                         eos_token_id=list(lm.denoiser.eos_ids), pad_token_id=lm.denoiser.pad_id)
    tokens, steps, done = [], [], 0
    for canvas in drafts.canvases:
        for j in range(len(canvas[0])):
            last = max(t for t in range(len(canvas)) if t == 0 or canvas[t][j] != canvas[t - 1][j])
            tokens.append(canvas[-1][j])
            steps.append(done + last + 1)
        done += len(canvas)
    new = out.sequences[0, len(ids):].tolist()
    n = next((i + 1 for i, t in enumerate(tokens[:max_gen_toks]) if t in lm.denoiser.eos_ids), max_gen_toks)
    assert new[:n] == tokens[:n]  # the emitted tokens are the last drafts
    # generate() counts its decoder forwards too: tokens_per_forward = non-pad new tokens / forwards
    valid = sum(t != lm.denoiser.pad_id for t in new)
    assert valid / done == pytest.approx(float(out.tokens_per_forward[0]))
    return tokens[:n], steps[:n], done, len(new)


def test_family_is_detected_and_loaded_with_transformers_own_class(tiny_gemma: str) -> None:
    config = json.load(open(f"{tiny_gemma}/config.json"))
    assert (config["model_type"], config["architectures"]) == ("diffusion_gemma", ["DiffusionGemmaForBlockDiffusion"])
    assert detect_family({"architectures": ["DiffusionGemmaForBlockDiffusion"]}, "x", None)[0].name == "diffusion_gemma"
    denoiser = load_denoiser(tiny_gemma)
    assert isinstance(denoiser, DiffusionGemmaDecoder)
    assert type(denoiser.model).__name__ == "DiffusionGemmaForBlockDiffusion"
    tok = denoiser.tokenizer
    assert denoiser.eos_ids == tuple(tok.convert_tokens_to_ids(t) for t in ("<eos>", "<turn|>", "<|tool_response>"))
    assert (denoiser.mask_id, denoiser.pad_id, denoiser.canvas_length) == (None, tok.convert_tokens_to_ids("<pad>"), 8)
    assert denoiser.max_length == 512 - 8  # one canvas of room for generate's rounding up
    assert FAMILIES["diffusion_gemma"].eos_tokens == (("<eos>", 1), ("<turn|>", 106), ("<|tool_response>", 50))


def test_traces_equal_a_recomputation_from_consecutive_drafts(tiny_gemma: str) -> None:
    lm, out = generate(tiny_gemma, batch_size=3, max_gen_toks=37)
    assert lm.config.strategy == "generate" and lm.config.block_length == 8  # the family's default, its canvas
    keys = row_keys([lm.tok_encode(c) for c in PROMPTS], seed=0)
    longer, lengths = 0, set()
    for context, key, answer in zip(PROMPTS, keys, out):
        tokens, steps, nfe, returned = recompute(lm, context, key, 37)
        trace = answer.trace
        assert trace["finalization_steps"] == steps
        assert trace["nfe"] == nfe
        assert trace["metrics"]["answer_tokens"] == len(tokens) <= 37
        assert trace["metrics"]["tokens_per_step"] == pytest.approx(len(tokens) / nfe)
        kept = tokens[:-1] if tokens[-1] in lm.denoiser.eos_ids else tokens
        assert str(answer) == lm.tokenizer.decode(kept, skip_special_tokens=True).split("\n\n")[0]
        longer += returned > 37  # generate() fills whole canvases: 40 tokens for 37 asked
        lengths.add(len(tokens))
    assert longer and len(lengths) > 1  # some answers stop at EOS, others run to max_gen_toks


def test_output_is_cut_to_max_gen_toks(tiny_gemma: str) -> None:
    for max_gen_toks in (3, 8, 13):
        _, out = generate(tiny_gemma, max_gen_toks=max_gen_toks)
        for answer in out:
            assert answer.trace["metrics"]["answer_tokens"] <= max_gen_toks
            assert len(answer.trace["finalization_steps"]) <= max_gen_toks
            assert len(answer.trace["finalization_steps"]) == answer.trace["metrics"]["answer_tokens"]


def test_batch_size_and_order_never_change_the_output(tiny_gemma: str) -> None:
    runs = []
    for batch_size in (1, 3):
        _, out = generate(tiny_gemma, batch_size=batch_size)
        runs.append([(str(o), o.trace["finalization_steps"], o.trace["nfe"]) for o in out])
    assert runs[0] == runs[1]
    lm = MDLM(pretrained=tiny_gemma, batch_size=3, device="cpu")
    backwards = lm.generate_until([request(c, doc_id=i) for i, c in reversed(list(enumerate(PROMPTS)))],
                                  disable_tqdm=True)
    assert [(str(o), o.trace["finalization_steps"]) for o in reversed(backwards)] == [r[:2] for r in runs[0]]


def test_bos_is_prepended_once(tiny_gemma: str) -> None:
    lm = MDLM(pretrained=tiny_gemma, device="cpu")
    seen = []
    generate_ = lm.denoiser.model.generate
    lm.denoiser.model.generate = lambda ids, **kw: seen.append(ids[0].tolist()) or generate_(ids, **kw)
    chat = lm.apply_chat_template([{"role": "user", "content": "hello"}])
    assert chat.startswith("<bos><|turn>user\nhello<turn|>\n<|turn>model\n")
    lm.generate_until([request("hello"), request(chat, doc_id=1)], disable_tqdm=True)
    bos = lm.tokenizer.convert_tokens_to_ids("<bos>")
    assert sorted(seen) == sorted([[bos] + lm.tok_encode("hello"), lm.tok_encode(chat)])
    assert lm.tok_encode(chat)[:2] == [bos, lm.tokenizer.convert_tokens_to_ids("<|turn>")]


def test_knobs_map_onto_the_generation_config(tiny_gemma: str) -> None:
    from transformers import TemperatureLogitsWarper

    lm = MDLM(pretrained=tiny_gemma, device="cpu")
    kwargs = lm.denoiser.generate_kwargs(lm.config, 13)
    assert kwargs == {"max_new_tokens": 13, "max_length": None, "return_dict_in_generate": True,
                      "eos_token_id": list(lm.denoiser.eos_ids), "pad_token_id": lm.denoiser.pad_id}
    tuned = lm.config.replace(steps=3, entropy_bound=0.5, temperature=0.7)
    kwargs = lm.denoiser.generate_kwargs(tuned, 13)
    assert kwargs["max_denoising_steps"] == 3 and kwargs["sampler_config"].entropy_bound == 0.5
    assert (kwargs["t_min"], kwargs["t_max"]) == (None, None)
    assert [type(p) for p in kwargs["logits_processor"]] == [TemperatureLogitsWarper]
    # the checkpoint's generation_config.json caps canvases at 8 steps; steps=3 caps them at 3
    _, default = generate(tiny_gemma)
    _, capped = generate(tiny_gemma, steps=3)
    assert max(o.trace["nfe"] for o in default) > 3 * 2
    for o in capped:
        assert o.trace["nfe"] <= 3 * 2  # 13 tokens = 2 canvases of 8
    _, reseeded = generate(tiny_gemma, seed=1)
    assert [str(o) for o in reseeded] != [str(o) for o in default]
    lm = MDLM(pretrained=tiny_gemma, device="cpu")  # a request's own seed counts too
    per_request = lm.generate_until([request(c, doc_id=i, seed=1) for i, c in enumerate(PROMPTS)], disable_tqdm=True)
    assert [str(o) for o in per_request] != [str(o) for o in default]


def test_engine_strategies_and_unmapped_knobs_are_clear_errors(tiny_gemma: str, tiny_bert: str) -> None:
    with pytest.raises(ConfigError, match=r"strategy='topk' cannot be used with family=diffusion_gemma: supported "
                                          r"strategies: generate\. DiffusionGemma has no mask token.*"
                                          r"strategy=generate"):
        MDLM(pretrained=tiny_gemma, device="cpu", strategy="topk")
    for knob, match in ((dict(k=2), r"no equivalent for k=2"),
                        (dict(threshold=0.5), r"no equivalent for threshold=0\.5"),
                        (dict(score="margin"), r"score='margin'.*It honours steps"),
                        (dict(block_length=4), r"block_length=4 cannot be used.*canvas_length=8"),
                        (dict(cache="prefix", block_length=8), r"cache=prefix cannot be used.*exact KV cache"),
                        (dict(entropy_bound=0.0), r"entropy_bound=0\.0 is invalid with strategy=generate")):
        with pytest.raises(ConfigError, match=match):
            MDLM(pretrained=tiny_gemma, device="cpu", **knob)
    lm = MDLM(pretrained=tiny_gemma, device="cpu")
    with pytest.raises(ConfigError, match=r"no equivalent for edit_threshold=0\.5"):  # per request, too
        lm.generate_until([request("hi", edit_threshold=0.5)], disable_tqdm=True)
    assert not isinstance(lm.denoiser, EngineDecoder) and not callable(lm.denoiser)  # no masked-canvas forward
    with pytest.raises(ConfigError, match=r"loglikelihood requests cannot be scored with family=diffusion_gemma"):
        lm.loglikelihood([_loglikelihood("Question: 2+2?", " 4")])
    with pytest.raises(ConfigError, match=r"strategy='generate' cannot be used with family=masked_lm.*own sampler"):
        MDLM(pretrained=tiny_bert, device="cpu", strategy="generate")
    with pytest.raises(ValueError, match=r"mask_id=5 cannot be set for family=diffusion_gemma: it has no mask token"):
        load_denoiser(tiny_gemma, mask_id=5)
    with pytest.raises(ValueError, match=r"family=diffusion_gemma:remote: transformers ships"):
        load_denoiser(tiny_gemma, family="diffusion_gemma:remote")


def _loglikelihood(context: str, continuation: str):
    from lm_eval.api.instance import Instance

    return Instance("loglikelihood", {}, (context, continuation), 0, metadata=("t", 0, 1))


def test_lm_eval_runs_it_end_to_end_with_traces(tiny_gemma: str) -> None:
    import lm_eval

    out = lm_eval.simple_evaluate(model="mdlm", model_args=f"pretrained={tiny_gemma}",
                                  tasks=["parallelbench_waiting_line_copy_gen"], limit=2)
    info = out["config"]["mdlm"]
    assert (info["family"], info["decode_config"]["strategy"], info["mask_id"]) == ("diffusion_gemma", "generate", None)
    summary = info["decoding_traces"]["parallelbench_waiting_line_copy_gen"]
    assert summary["samples"] == 2 and summary["nfe"] > 0 and summary["afp"] >= 1
    results = out["results"]["parallelbench_waiting_line_copy_gen"]
    for metric in ("score,none", "nfe,none", "afp,none", "tokens_per_step,none"):
        assert metric in results
