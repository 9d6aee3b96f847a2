"""Block-diffusion families (SDAR/TraDo, LLaDA 2.x) on tiny checkpoints with their real config fields and
weight names (tests/fixtures/families.py).

The reference forward below is written from the families' public code (module docstrings of
lm_eval_mdlm/families/sdar.py and llada2.py), reads the checkpoint's tensors by their original names and
builds the block-causal attention by hand; no transformers module is involved.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from lm_eval_mdlm.config import ConfigError, DecodeConfig
from lm_eval_mdlm.decoding.loop import denoise
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.decoding.schedule import make_schedule
from lm_eval_mdlm.families import FAMILIES, load_denoiser
from lm_eval_mdlm.families import registry
from lm_eval_mdlm.families.spec import left_positions
from lm_eval_mdlm.families.block_causal import block_causal_4d
from tests.fixtures.families import build_tiny_dream
from lm_eval_mdlm.model import MDLM

from test_families import _rms
from test_model import PROMPTS, request

REPO = Path(__file__).resolve().parents[1]
FIXTURES = ["tiny_sdar", "tiny_llada2"]
BLOCK = 4  # small blocks, so that short rows span several (LLaDA 2.x's own blocks are 32 long)


def _rope(x: torch.Tensor, theta: float, rotary: int) -> torch.Tensor:
    """Rotate-half RoPE on the first ``rotary`` dims of each head, positions 0..L-1; x: (H, L, D)."""
    inv = 1.0 / theta ** (torch.arange(0, rotary, 2, dtype=torch.float) / rotary)
    angles = torch.outer(torch.arange(x.shape[-2], dtype=torch.float), inv)
    cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()
    rot, rest = x[..., :rotary], x[..., rotary:]
    half = torch.cat([-rot[..., rotary // 2:], rot[..., :rotary // 2]], -1)
    return torch.cat([rot * cos + half * sin, rest], -1)


def _mlp(w: dict[str, torch.Tensor], prefix: str, x: torch.Tensor) -> torch.Tensor:
    return F.linear(F.silu(F.linear(x, w[prefix + "gate_proj.weight"])) * F.linear(x, w[prefix + "up_proj.weight"]),
                    w[prefix + "down_proj.weight"])


def _moe(w: dict[str, torch.Tensor], prefix: str, x: torch.Tensor, config: dict) -> torch.Tensor:
    """LLaDA2MoeSparseMoeBlock, token by token: sigmoid scores, expert bias for the choice only,
    group-limited top-k (groups scored by their top-2 sum), weights renormalised and scaled, shared expert."""
    experts, groups = config["num_experts"], config["n_group"]
    out = _mlp(w, prefix + "shared_experts.", x)
    for t in range(x.shape[0]):
        scores = torch.sigmoid(F.linear(x[t].float(), w[prefix + "gate.weight"].float()))
        choice = scores + w[prefix + "gate.expert_bias"]
        group_scores = choice.view(groups, -1).topk(2).values.sum(-1)
        kept = torch.zeros(groups, dtype=torch.bool)
        kept[group_scores.topk(config["topk_group"]).indices] = True
        choice = choice.masked_fill(~kept.repeat_interleave(experts // groups), float("-inf"))
        chosen = choice.topk(config["num_experts_per_tok"]).indices
        weights = scores[chosen] / scores[chosen].sum() * config["routed_scaling_factor"]
        for e, weight in zip(chosen.tolist(), weights):
            out[t] = out[t] + weight * _mlp(w, f"{prefix}experts.{e}.", x[t])
    return out


def reference_logits(folder: str, ids: list[int], block_length: int) -> torch.Tensor:
    """One forward of an unpadded row, block-causal over blocks of ``block_length`` from position 0."""
    config = json.load(open(f"{folder}/config.json"))
    w = load_file(f"{folder}/model.safetensors")
    llada2 = config["model_type"] == "llada2_moe"
    heads, kv, dim = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
    eps, theta = config["rms_norm_eps"], config["rope_theta"]
    rotary = int(dim * config.get("partial_rotary_factor", 1.0))
    length = len(ids)
    blocks = torch.arange(length) // block_length
    allowed = blocks[None, :] <= blocks[:, None]  # query i sees key j iff block(j) <= block(i)
    embed = w["model.word_embeddings.weight" if llada2 else "model.embed_tokens.weight"]
    x = embed[torch.tensor(ids)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = _rms(x, w[p + "input_layernorm.weight"], eps)
        if llada2:
            qkv = F.linear(h, w[p + "attention.query_key_value.weight"]).view(length, heads + 2 * kv, dim)
            q, k, v = qkv.split([heads, kv, kv], dim=1)
            q_norm, k_norm = w[p + "attention.query_layernorm.weight"], w[p + "attention.key_layernorm.weight"]
        else:
            q, k, v = (F.linear(h, w[p + f"self_attn.{n}_proj.weight"]).view(length, -1, dim) for n in "qkv")
            q_norm, k_norm = w[p + "self_attn.q_norm.weight"], w[p + "self_attn.k_norm.weight"]
        q = _rope(_rms(q, q_norm, eps).transpose(0, 1), theta, rotary)
        k = _rope(_rms(k, k_norm, eps).transpose(0, 1), theta, rotary)
        k, v = k.repeat_interleave(heads // kv, 0), v.transpose(0, 1).repeat_interleave(heads // kv, 0)
        scores = (q @ k.transpose(-1, -2) / math.sqrt(dim)).masked_fill(~allowed, float("-inf"))
        att = (torch.softmax(scores, -1) @ v).transpose(0, 1).reshape(length, -1)
        x = x + F.linear(att, w[p + ("attention.dense.weight" if llada2 else "self_attn.o_proj.weight")])
        h = _rms(x, w[p + "post_attention_layernorm.weight"], eps)
        moe = llada2 and i >= config["first_k_dense_replace"]
        x = x + (_moe(w, p + "mlp.", h, config) if moe else _mlp(w, p + "mlp.", h))
    return F.linear(_rms(x, w["model.norm.weight"], eps), w.get("lm_head.weight", embed))


@torch.no_grad()
def block_forward(denoiser, ids: torch.Tensor, attention: torch.Tensor, block_length: int = BLOCK) -> torch.Tensor:
    """The adapter's module run with a block-causal mask of ``block_length`` (the loop's decoding blocks)."""
    return denoiser.logits(ids, block_causal_4d(attention, block_length), left_positions(attention))


@pytest.mark.parametrize("fixture", FIXTURES)
def test_one_step_logits_equal_a_hand_written_forward(fixture: str, request: pytest.FixtureRequest) -> None:
    folder = request.getfixturevalue(fixture)
    denoiser = load_denoiser(folder)
    ids = [5, 17, 42, 99, 3, 150, denoiser.mask_id, denoiser.mask_id, 60, denoiser.mask_id, 7]
    row, am = torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.bool)
    own = denoiser.spec.block_length  # the model's own blocks (4 for SDAR, 32 for LLaDA 2.x)
    torch.testing.assert_close(denoiser(row, am)[0], reference_logits(folder, ids, own), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(block_forward(denoiser, row, am, 3)[0], reference_logits(folder, ids, 3),
                               atol=1e-4, rtol=1e-4)


def test_each_family_owns_its_conventions(tiny_sdar: str, tiny_llada2: str) -> None:
    sdar, llada2 = load_denoiser(tiny_sdar), load_denoiser(tiny_llada2)
    assert (sdar.family, type(sdar.model).__name__, sdar.spec.block_length) == ("sdar", "Qwen3ForCausalLM", 4)
    assert sdar.mask_id == sdar.tokenizer.convert_tokens_to_ids("<|MASK|>") == sdar.tokenizer.mask_token_id
    assert sdar.eos_ids == tuple(sdar.tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>"))
    assert (llada2.family, type(llada2.model).__name__, llada2.spec.block_length) == \
        ("llada2", "Glm4MoeForCausalLM", 32)
    assert llada2.tokenizer.mask_token_id is None  # as LLaDA 2.x's: the adapter finds <|mask|> itself
    assert llada2.mask_id == llada2.tokenizer.convert_tokens_to_ids("<|mask|>")
    assert llada2.eos_ids == (llada2.tokenizer.convert_tokens_to_ids("<|endoftext|>"),)
    assert (FAMILIES["sdar"].mask_id, FAMILIES["llada2"].mask_id, FAMILIES["llada2"].eos_tokens) == \
        (151669, 156895, (("<|endoftext|>", 156892),))
    assert sdar.block_causal and llada2.block_causal and not sdar.spec.shift_logits and not llada2.spec.shift_logits


@pytest.mark.parametrize("fixture", FIXTURES)
def test_left_padded_batches_equal_unpadded_rows(fixture: str, request: pytest.FixtureRequest) -> None:
    denoiser = load_denoiser(request.getfixturevalue(fixture))
    rows = [[7, 8, 9, 10, 11, denoiser.mask_id], [20, 21, denoiser.mask_id], [30, 31, 32, 33, 34, 35, 36, 37, 38]]
    width = max(map(len, rows))
    ids = torch.tensor([[denoiser.pad_id] * (width - len(r)) + r for r in rows])
    am = torch.tensor([[False] * (width - len(r)) + [True] * len(r) for r in rows])
    for blocks in (denoiser.spec.block_length, BLOCK):  # the model's own blocks, and blocks of 4
        batch = block_forward(denoiser, ids, am, blocks)
        for b, row in enumerate(rows):
            alone = block_forward(denoiser, torch.tensor([row]), torch.ones(1, len(row), dtype=torch.bool), blocks)
            torch.testing.assert_close(batch[b, width - len(row):], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(denoiser(ids, am), block_forward(denoiser, ids, am, denoiser.spec.block_length))


@pytest.mark.parametrize("fixture", FIXTURES)
def test_attention_is_block_causal_with_blocks_aligned_to_the_first_real_token(
        fixture: str, request: pytest.FixtureRequest) -> None:
    denoiser = load_denoiser(request.getfixturevalue(fixture))
    base = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]  # blocks of 4: [0, 4), [4, 8), [8, 11)
    pad = [denoiser.pad_id] * 3  # left padding must not move the block boundaries

    def logits(row: list[int]) -> torch.Tensor:
        am = torch.tensor([[False] * len(pad) + [True] * len(row)])
        return block_forward(denoiser, torch.tensor([pad + row]), am)[0, len(pad):]

    def changed(position: int) -> torch.Tensor:
        row = list(base)
        row[position] = 40
        return (logits(row) - logits(base)).abs().amax(-1) > 1e-4

    assert changed(9).tolist() == [False] * 8 + [True] * 3  # a later block is invisible to earlier ones
    assert changed(5).tolist() == [False] * 4 + [True] * 7  # inside a block both directions, then onwards
    assert changed(3).all()  # the first block reaches every position


@pytest.mark.parametrize("fixture", FIXTURES)
def test_the_first_answer_block_is_the_rest_of_the_prompts_block(fixture: str,
                                                                 request: pytest.FixtureRequest) -> None:
    """k = block size commits one whole block per step, so each step's tokens show the block layout."""
    denoiser = load_denoiser(request.getfixturevalue(fixture))
    prompts, length = [[5] * 5, [6] * 6, [7] * 8, [8] * 3], 10
    cfg = DecodeConfig(k=BLOCK, block_length=BLOCK)
    out = denoise(denoiser, prompts, cfg, make_schedule(cfg, length, aligned=True), mask_id=denoiser.mask_id,
                  pad_id=denoiser.pad_id, eos_ids=(), keys=row_keys(prompts, 0), device=torch.device("cpu"))
    for prompt, steps, nfe in zip(prompts, out.finalized_at.tolist(), out.nfe.tolist()):
        phase = len(prompt) % BLOCK  # answer position a lies in block (len(prompt) + a) // BLOCK
        expected = [(phase + a) // BLOCK + 1 for a in range(length)]
        assert steps == expected and nfe == expected[-1]


class _Compared:
    """A block-causal model whose cached forward is checked against the uncached one at every step, at the
    window slots inside the row's block (the loop ignores slots past the block's end)."""

    block_causal = True

    def __init__(self, denoiser) -> None:
        self.denoiser, self.max_difference = denoiser, 0.0

    def check_cache(self, mode: str) -> None:
        self.denoiser.check_cache(mode)

    def block_cache(self, mode: str, batch: int, block_length: int):
        cached = self.denoiser.block_cache("prefix", batch, block_length)
        plain = self.denoiser.block_cache("none", batch, block_length)

        def forward(x: torch.Tensor, attention: torch.Tensor, rows: torch.Tensor, window: torch.Tensor,
                    refresh: torch.Tensor) -> torch.Tensor:
            got, expected = cached(x, attention, rows, window, refresh), plain(x, attention, rows, window, refresh)
            blocks = left_positions(attention[rows]).gather(1, window) // block_length
            inside = blocks == blocks[:, :1]
            self.max_difference = max(self.max_difference, float((got - expected).abs()[inside].max()))
            return got

        return forward


@pytest.mark.parametrize("strategy", [{"k": 2}, {"strategy": "edit", "threshold": 0.7, "edit_threshold": 0.5,
                                                 "max_edit_steps": 16}], ids=["topk", "edit"])
@pytest.mark.parametrize("fixture", FIXTURES)
def test_exact_block_cache_equals_no_cache(fixture: str, strategy: dict, request: pytest.FixtureRequest) -> None:
    denoiser = load_denoiser(request.getfixturevalue(fixture))
    prompts = [denoiser.tokenizer(p).input_ids for p in PROMPTS[:5]]
    outs = {}
    for mode in ("none", "prefix", "dual", "compared"):
        cfg = DecodeConfig(block_length=BLOCK, cache="none" if mode in ("none", "compared") else mode, **strategy)
        forward = _Compared(denoiser) if mode == "compared" else denoiser
        outs[mode] = denoise(forward, prompts, cfg, make_schedule(cfg, 14, aligned=True), mask_id=denoiser.mask_id,
                             pad_id=denoiser.pad_id, eos_ids=(), keys=row_keys(prompts, 0),
                             device=torch.device("cpu"))
        if mode == "compared":
            assert forward.max_difference < 1e-4  # every step's logits, cached vs recomputed
    assert strategy.get("strategy") != "edit" or outs["none"].revised.sum() > 0  # edits happened
    for mode in ("prefix", "dual", "compared"):
        for field in ("answer", "finalized_at", "nfe", "revised"):
            assert torch.equal(getattr(outs[mode], field), getattr(outs["none"], field)), (mode, field)


def test_the_cache_stores_finished_blocks_without_extra_forwards(tiny_sdar: str) -> None:
    """After a row's first step only its current block (plus, when it enters a block, the block just
    finished) is fed; NFE equals the number of decoding steps."""
    denoiser = load_denoiser(tiny_sdar)
    fed: list[int] = []
    original = denoiser.logits

    def counting(ids: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        fed.append(ids.shape[1])
        return original(ids, *args, **kwargs)

    denoiser.logits = counting
    prompt, length = [5, 6, 7, 8, 9, 10], 10  # phase 2: answer blocks of 2, 4, 4 tokens
    cfg = DecodeConfig(k=1, block_length=BLOCK, cache="prefix")
    out = denoise(denoiser, [prompt], cfg, make_schedule(cfg, length, aligned=True), mask_id=denoiser.mask_id,
                  pad_id=denoiser.pad_id, eos_ids=(), keys=row_keys([prompt], 0), device=torch.device("cpu"))
    assert out.nfe.tolist() == [length] and len(fed) == length
    # step 1 prefills the prompt with its shared block (8 positions); each first step of a block feeds the
    # finished block and the new one (8), later steps only the block (4)
    assert fed == [8, 4, 8, 4, 4, 4, 8, 4, 4, 4]


@pytest.mark.parametrize("model_args", [{}, {"strategy": "threshold", "threshold": 0.5, "cache": "prefix"},
                                        {"strategy": "edit", "threshold": 0.7, "edit_threshold": 0.5,
                                         "max_edit_steps": 16, "block_length": BLOCK}],
                         ids=["default", "threshold-cache", "llada2.1-q-mode"])
@pytest.mark.parametrize("fixture", FIXTURES)
def test_batch_size_never_changes_the_output(fixture: str, model_args: dict, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    if model_args.get("cache"):
        model_args = {**model_args, "block_length": BLOCK}  # cache= needs block_length given explicitly
    runs = []
    for batch_size in (1, 3, 8):
        lm = MDLM(pretrained=path, batch_size=batch_size, device="cpu", **model_args)
        out = lm.generate_until([request_(c, i) for i, c in enumerate(PROMPTS)], disable_tqdm=True)
        runs.append([(str(o), o.trace["finalization_steps"], o.trace["nfe"]) for o in out])
    assert runs[0] == runs[1] == runs[2]
    assert any(r[0] for r in runs[0])


def request_(context: str, doc_id: int):
    return request(context, doc_id=doc_id)


def test_the_model_sets_the_block_length(tiny_sdar: str, tiny_llada2: str, tmp_path: Path) -> None:
    assert MDLM(pretrained=tiny_sdar, device="cpu").config.block_length == 4
    lm = MDLM(pretrained=tiny_llada2, device="cpu")
    assert lm.config.block_length == 32
    out = lm.generate_until([request("hello", block_length=8)], disable_tqdm=True)
    assert out[0].trace["config"]["block_length"] == 8  # a request may choose other blocks
    folder = tmp_path / "sdar8"
    shutil.copytree(tiny_sdar, folder)
    config = json.load(open(folder / "config.json"))
    json.dump({**config, "block_size": 8}, open(folder / "config.json", "w"))
    assert load_denoiser(str(folder)).spec.block_length == 8
    json.dump({**config, "block_size": "8"}, open(folder / "config.json", "w"))
    with pytest.raises(ValueError, match=r"sdar: config block size '8' is invalid: it must be an integer >= 1"):
        load_denoiser(str(folder))


def _edited(folder: str, tmp_path: Path, **changes) -> str:
    target = tmp_path / "edited"
    shutil.copytree(folder, target)
    config = json.load(open(target / "config.json"))
    json.dump({**config, **changes}, open(target / "config.json", "w"))
    return str(target)


@pytest.mark.parametrize(("fixture", "changes", "message"), [
    ("tiny_sdar", {"use_sliding_window": True}, r"sdar: config use_sliding_window=True is not supported"),
    ("tiny_sdar", {"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, r"sdar: config rope_scaling="),
    ("tiny_llada2", {"use_bias": True}, r"llada2: config use_bias=True is not supported"),
    ("tiny_llada2", {"score_function": "softmax"}, r"llada2: config score_function='softmax' is not supported"),
    ("tiny_llada2", {"use_qk_norm": False}, r"llada2: config use_qk_norm=False is not supported"),
    ("tiny_llada2", {"num_shared_experts": 0}, r"llada2: config num_shared_experts=0 is not supported"),
])
def test_native_loading_refuses_options_it_cannot_reproduce(fixture: str, changes: dict, message: str,
                                                            request: pytest.FixtureRequest, tmp_path: Path) -> None:
    folder = _edited(request.getfixturevalue(fixture), tmp_path, **changes)
    name = "sdar" if fixture == "tiny_sdar" else "llada2"
    with pytest.raises(ValueError, match=message + rf".*family={name}:remote,trust_remote_code=True"):
        load_denoiser(folder)


def test_clear_errors(tiny_sdar: str, tiny_llada2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dream = build_tiny_dream(str(tmp_path / "dream"))
    with pytest.raises(ValueError, match=r"weight names do not match the sdar layout.*missing"):
        load_denoiser(dream, family="sdar")
    with pytest.raises(ValueError, match=r"weight names do not match the sdar layout"):
        load_denoiser(tiny_llada2, family="sdar")
    with pytest.raises(ValueError, match=r"llada2: config.json lacks moe_intermediate_size, num_experts, "
                                         r"num_experts_per_tok, which a LLaDA 2.x config has"):
        load_denoiser(dream, family="llada2")
    with pytest.raises(ConfigError, match=r"block-diffusion model decodes in the blocks its attention uses, so "
                                          r"block_length is needed.*block_length=4 for SDAR, 32 for LLaDA 2.x"):
        make_schedule(DecodeConfig(), 8, aligned=True)
    with pytest.raises(ConfigError, match=r"steps=3 is fewer than the 4 blocks of this request \(answer length 10, "
                                          r"block_length=4, blocks aligned to the prompt\)"):
        make_schedule(DecodeConfig(steps=3, block_length=4), 10, aligned=True)
    denoiser = load_denoiser(tiny_sdar)
    cfg = DecodeConfig(block_length=4)
    with pytest.raises(ValueError, match=r"the model is block-causal but the schedule has aligned=False: build it "
                                         r"with make_schedule\(cfg, length, aligned=True\)"):
        denoise(denoiser, [[5, 6]], cfg, make_schedule(cfg, 6), mask_id=denoiser.mask_id, pad_id=denoiser.pad_id,
                eos_ids=(), keys=[0], device=torch.device("cpu"))
    remote = load_denoiser(tiny_llada2)
    remote.spec = dataclasses.replace(remote.spec, kv_cache=False)  # what family=llada2:remote loads
    with pytest.raises(ConfigError, match=r"family=llada2:remote runs the checkpoint's own modeling code"):
        remote.check_cache("prefix")
    # a family that lists its strategies refuses the others at load and per request, naming them
    monkeypatch.setitem(registry.FAMILIES, "sdar", dataclasses.replace(FAMILIES["sdar"], strategies=("topk", "edit")))
    with pytest.raises(ConfigError, match=r"strategy='threshold' cannot be used with family=sdar: supported "
                                          r"strategies: topk, edit"):
        MDLM(pretrained=tiny_sdar, device="cpu", strategy="threshold")
    lm = MDLM(pretrained=tiny_sdar, device="cpu")
    with pytest.raises(ConfigError, match=r"strategy='factor' cannot be used with family=sdar"):
        lm.generate_until([request("hello", strategy="factor")], disable_tqdm=True)


def test_llada2_editing_settings_are_accepted() -> None:
    """LLaDA 2.1's S mode edits every committed token the model now predicts differently (threshold 0)."""
    assert DecodeConfig(strategy="edit", threshold=0.5, edit_threshold=0.0, max_edit_steps=16).edit_threshold == 0.0
    with pytest.raises(ConfigError, match=r"edit_threshold=-0.1 is invalid: it must lie in \[0, 1\]"):
        DecodeConfig(strategy="edit", edit_threshold=-0.1)


@pytest.mark.parametrize("fixture", FIXTURES)
def test_lm_eval_runs_the_family_end_to_end(fixture: str, request: pytest.FixtureRequest) -> None:
    import lm_eval
    from lm_eval.tasks import TaskManager

    task = "parallelbench_list_ops_copy_gen"
    manager = TaskManager(include_defaults=False, include_path=str(REPO / "task_yamls"))
    out = lm_eval.simple_evaluate(model="mdlm", model_args=f"pretrained={request.getfixturevalue(fixture)}",
                                  tasks=[task], limit=2, task_manager=manager, device="cpu", log_samples=True)
    info = out["config"]["mdlm"]
    assert info["family"] == ("sdar" if fixture == "tiny_sdar" else "llada2")
    assert info["decode_config"]["block_length"] == (4 if fixture == "tiny_sdar" else 32)
    assert len(out["samples"][task]) == 2 and "score,none" in out["results"][task]
