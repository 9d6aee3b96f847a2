"""Family adapters on tiny checkpoints with each family's real config fields and weight names.

The reference forwards below are written from the families' published architecture (see the
docstrings of lm_eval_mdlm/families/llada.py and dream.py), reading the checkpoint's tensors by
their original names, with no transformers module involved.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from lm_eval_mdlm.families import FAMILIES, load_denoiser
from lm_eval_mdlm.model import MDLM

from test_model import PROMPTS, request


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def _rope(x: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotate-half RoPE over positions 0..L-1 of an unpadded row; x: (H, L, D)."""
    dim, length = x.shape[-1], x.shape[-2]
    inv = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float) / dim)
    angles = torch.outer(torch.arange(length, dtype=torch.float), inv)
    cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()
    half = torch.cat([-x[..., dim // 2:], x[..., :dim // 2]], -1)
    return x * cos + half * sin


def reference_logits(folder: str, ids: list[int]) -> torch.Tensor:
    """One bidirectional forward of an unpadded row, by hand, from the checkpoint's own names.

    Returns logits aligned so that row i predicts token i (Dream's are shifted back by one, as its
    sampler does)."""
    logits, _ = reference_forward(folder, ids)
    llada = json.load(open(f"{folder}/config.json"))["model_type"] == "llada"
    return logits if llada else torch.cat([logits[:1], logits[:-1]], 0)


KV = list[tuple[torch.Tensor, torch.Tensor]]


def reference_forward(folder: str, ids: list[int], fed: range | None = None,
                      frozen: KV | None = None) -> tuple[torch.Tensor, KV]:
    """The module's own (unaligned) logits of an unpadded row and each layer's rotated keys/values.

    With ``frozen`` (the keys/values of an earlier forward), every layer attends to the keys/values of
    ``frozen`` at the positions outside ``fed``: what a KV cache does (tests/test_cache.py)."""
    config = json.load(open(f"{folder}/config.json"))
    w = load_file(f"{folder}/model.safetensors")
    llada = config["model_type"] == "llada"
    if llada:
        names = dict(embed="model.transformer.wte.weight", norm="model.transformer.ln_f.weight",
                     head="model.transformer.ff_out.weight", layer="model.transformer.blocks.{}.",
                     q="q_proj", k="k_proj", v="v_proj", o="attn_out", gate="ff_proj", up="up_proj",
                     down="ff_out", ln1="attn_norm", ln2="ff_norm")
        heads, kv, layers, eps = config["n_heads"], config["n_kv_heads"], config["n_layers"], config["rms_norm_eps"]
    else:
        names = dict(embed="model.embed_tokens.weight", norm="model.norm.weight", head="lm_head.weight",
                     layer="model.layers.{}.", q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj",
                     o="self_attn.o_proj", gate="mlp.gate_proj", up="mlp.up_proj", down="mlp.down_proj",
                     ln1="input_layernorm", ln2="post_attention_layernorm")
        heads, kv, layers = config["num_attention_heads"], config["num_key_value_heads"], config["num_hidden_layers"]
        eps = config["rms_norm_eps"]

    def lin(x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, w[name + ".weight"], w.get(name + ".bias"))

    x = w[names["embed"]][torch.tensor(ids)]
    length = len(ids)
    stale = torch.ones(length, dtype=torch.bool)
    stale[list(fed or range(length))] = False
    kv_out: KV = []
    for i in range(layers):
        p = names["layer"].format(i)
        h = _rms(x, w[p + names["ln1"] + ".weight"], eps)
        q, k, v = (lin(h, p + names[n]) for n in ("q", "k", "v"))
        dim = q.shape[-1] // heads
        q = _rope(q.view(length, heads, dim).transpose(0, 1), config["rope_theta"])
        k = _rope(k.view(length, kv, dim).transpose(0, 1), config["rope_theta"])
        v = v.view(length, kv, dim).transpose(0, 1)
        if frozen is not None:
            k, v = torch.where(stale[:, None], frozen[i][0], k), torch.where(stale[:, None], frozen[i][1], v)
        kv_out.append((k, v))
        k, v = k.repeat_interleave(heads // kv, 0), v.repeat_interleave(heads // kv, 0)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dim), -1) @ v  # no mask: bidirectional
        x = x + lin(att.transpose(0, 1).reshape(length, -1), p + names["o"])
        h = _rms(x, w[p + names["ln2"] + ".weight"], eps)
        x = x + lin(F.silu(lin(h, p + names["gate"])) * lin(h, p + names["up"]), p + names["down"])
    return F.linear(_rms(x, w[names["norm"]], eps), w[names["head"]]), kv_out


@pytest.mark.parametrize("fixture", ["tiny_dream", "tiny_llada"])
def test_one_step_logits_equal_a_hand_written_forward(fixture: str, request: pytest.FixtureRequest) -> None:
    folder = request.getfixturevalue(fixture)
    denoiser = load_denoiser(folder)
    ids = [5, 17, 42, 99, 3, 150, denoiser.mask_id, denoiser.mask_id, 60]
    got = denoiser(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.bool))[0]
    torch.testing.assert_close(got, reference_logits(folder, ids), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("fixture", ["tiny_dream", "tiny_llada"])
def test_left_padded_batches_equal_unpadded_rows(fixture: str, request: pytest.FixtureRequest) -> None:
    denoiser = load_denoiser(request.getfixturevalue(fixture))
    rows = [[7, 8, 9, 10, 11, denoiser.mask_id], [20, 21, denoiser.mask_id], [30, 31, 32, 33, 34, 35, 36, 37]]
    width = max(map(len, rows))
    ids = torch.tensor([[denoiser.pad_id] * (width - len(r)) + r for r in rows])
    am = torch.tensor([[False] * (width - len(r)) + [True] * len(r) for r in rows])
    batch = denoiser(ids, am)
    for b, row in enumerate(rows):
        alone = denoiser(torch.tensor([row]), torch.ones(1, len(row), dtype=torch.bool))[0]
        torch.testing.assert_close(batch[b, width - len(row):], alone, atol=1e-5, rtol=1e-5)


def test_each_family_owns_its_conventions(tiny_dream: str, tiny_llada: str) -> None:
    dream, llada = load_denoiser(tiny_dream), load_denoiser(tiny_llada)
    tok = dream.tokenizer
    spec = dream.spec
    assert (dream.family, spec.shift_logits, spec.mask_layout, spec.pad_position) == ("dream", True, "4d", 1)
    assert dream.mask_id == tok.convert_tokens_to_ids("<|mask|>")
    assert dream.eos_ids == tuple(tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_end|>"))
    assert type(dream.model).__name__ == "Qwen2ForCausalLM"  # native: no remote code
    tok = llada.tokenizer
    assert tok.mask_token_id is None  # as LLaDA's: the adapter finds <|mdm_mask|> itself
    assert (llada.family, llada.spec.shift_logits) == ("llada", False)
    assert llada.mask_id == tok.convert_tokens_to_ids("<|mdm_mask|>")
    assert llada.eos_ids == tuple(tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|eot_id|>"))
    assert type(llada.model).__name__ == "LlamaForCausalLM"
    mask_ids = (FAMILIES["llada"].mask_id, FAMILIES["dream"].mask_id, FAMILIES["llada2"].mask_id)
    assert mask_ids == (126336, 151666, 156895)


def test_models_are_bidirectional(tiny_dream: str, tiny_llada: str) -> None:
    for folder in (tiny_dream, tiny_llada):
        denoiser = load_denoiser(folder)
        a, b = torch.tensor([[5, 6, 7, 8, 9]]), torch.tensor([[5, 6, 7, 8, 10]])
        am = torch.ones(1, 5, dtype=torch.bool)
        assert (denoiser(a, am)[0, 1] - denoiser(b, am)[0, 1]).abs().max() > 1e-3


STRATEGIES = [{"strategy": "topk"}, {"strategy": "topk", "k": 2, "block_length": 4},
              {"strategy": "threshold", "threshold": 0.5}, {"strategy": "edit", "threshold": 0.6, "block_length": 7}]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
@pytest.mark.parametrize("fixture", ["tiny_dream", "tiny_llada"])
def test_batch_size_never_changes_the_output(fixture: str, strategy: dict, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    runs = []
    for batch_size in (1, 3, 8):
        lm = MDLM(pretrained=path, batch_size=batch_size, device="cpu", **strategy)
        out = lm.generate_until([request_(c, i) for i, c in enumerate(PROMPTS)], disable_tqdm=True)
        runs.append([(str(o), o.trace["finalization_steps"], o.trace["nfe"]) for o in out])
    assert runs[0] == runs[1] == runs[2]
    assert any(r[0] for r in runs[0])  # something was generated


def request_(context: str, doc_id: int):
    return request(context, doc_id=doc_id)


def test_family_override_and_errors(tiny_dream: str, tiny_bert: str) -> None:
    with pytest.raises(ValueError, match=r"family='gpt' is unknown; valid values: llada, llada_moe, dream, "
                                         r"masked_lm, llada2, sdar, sdar_moe, diffusion_gemma"):
        load_denoiser(tiny_dream, family="gpt")
    with pytest.raises(ValueError,
                       match=r"family='dream:remote' runs the checkpoint's own code: add trust_remote_code=True"):
        load_denoiser(tiny_dream, family="dream:remote")
    with pytest.raises(ValueError, match=r"weight names do not match the dream layout.*missing"):
        load_denoiser(tiny_bert, family="dream")
    assert load_denoiser(tiny_bert, family="masked_lm").family == "masked_lm"


def test_native_loading_refuses_options_it_cannot_reproduce(tiny_llada: str, tmp_path) -> None:
    folder = tmp_path / "biased"
    shutil.copytree(tiny_llada, folder)
    config = json.load(open(folder / "config.json"))
    json.dump({**config, "include_qkv_bias": True}, open(folder / "config.json", "w"))
    with pytest.raises(ValueError, match=r"include_qkv_bias=True is not supported by native loading.*"
                                         r"family=llada:remote,trust_remote_code=True"):
        load_denoiser(str(folder))


def test_family_strategy_check_names_alternatives() -> None:
    import dataclasses

    family = dataclasses.replace(FAMILIES["dream"], strategies=("topk", "threshold"))
    family.check_strategy("topk")
    with pytest.raises(ValueError, match=r"strategy='edit' cannot be used with family=dream: "
                                         r"supported strategies: topk, threshold"):
        family.check_strategy("edit")


def test_modernbert_with_sliding_layers_is_left_pad_invariant(tmp_path) -> None:
    import transformers

    from tests.fixtures.tiny import build_tokenizer

    tok = build_tokenizer()
    torch.manual_seed(0)
    cfg = transformers.ModernBertConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, max_position_embeddings=128, local_attention=4,
                                        global_attn_every_n_layers=2, pad_token_id=tok.pad_token_id,
                                        initializer_range=0.5)
    transformers.ModernBertForMaskedLM(cfg).eval().save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    denoiser = load_denoiser(str(tmp_path))
    row = list(range(10, 30))
    far = row[:-1] + [31]  # changes only the last token: outside position 0's window in sliding layers
    am = torch.ones(1, 20, dtype=torch.bool)
    alone = denoiser(torch.tensor([row]), am)[0]
    assert (alone[0] - denoiser(torch.tensor([far]), am)[0, 0]).abs().max() > 0  # global layer still sees it
    padded = denoiser(torch.tensor([[tok.pad_token_id] * 5 + row]),
                      torch.cat([torch.zeros(1, 5, dtype=torch.bool), am], 1))
    torch.testing.assert_close(padded[0, 5:], alone, atol=1e-5, rtol=1e-5)
    layer_types = denoiser.model.config.layer_types
    assert "sliding_attention" in layer_types and "full_attention" in layer_types


def test_llada_moe_is_recognised_by_type_or_architecture() -> None:
    """LLaDA-MoE keeps LLaDA 2.x's tokenizer ids (dllm's get_tokenizer: mask <|mask|>, end of turn <|role_end|>)."""
    from lm_eval_mdlm.families.registry import detect_family

    for config in ({"model_type": "lladamoe"}, {"model_type": "llada_moe"}, {"architectures": ["LLaDAMoEModelLM"]},
                   {"model_type": "llada", "architectures": ["LLaDAMoEModelLM"]}):
        family, remote = detect_family(config, "m", None)
        assert family.name == "llada_moe" and family.mask_id == 156895 and not remote
        assert family.native is not None and dict(family.eos_tokens)["<|endoftext|>"] == 156892
