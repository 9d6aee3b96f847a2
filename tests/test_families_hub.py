"""Published checkpoints as their hub repos lay them out: Dream/DiffuCoder's slow tokenizer, LLaDA-MoE and
SDAR-MoE natively, mask-id order, device maps, clear errors, and one lm_eval run per family fixture.

Expected values in tests/data come from the models' own code run on these fixtures (never committed):
``DreamTokenizer`` (``tokenization_dream.py``) for the Dream/DiffuCoder ids, SDAR's ``tokenization_qwen2.py`` and
``chat_template.jinja``, and ``modeling_{lladamoe,dream,llada,llada2_moe}.py`` for logits (run under transformers 5
with ``ROPE_INIT_FUNCTIONS["default"]`` / ``is_torch_fx_available`` patched back in; each file says how).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from lm_eval.api.instance import Instance
from safetensors.torch import load_file

from lm_eval_mdlm.families import load_denoiser
from tests.fixtures.families import build_tiny_dream, build_tiny_llada
from tests.fixtures.families_moe import build_tiny_llada_moe, build_tiny_sdar_moe
from lm_eval_mdlm.model import MDLM

from test_block_diffusion import _mlp, _rms, _rope

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One folder per hub layout: the four families' fixtures are built by conftest; these are the new ones."""
    root = tmp_path_factory.mktemp("hub")
    return {"dream": build_tiny_dream(str(root / "dream")),
            "diffucoder": build_tiny_dream(str(root / "diffucoder"), diffucoder=True),
            "llada_moe": build_tiny_llada_moe(str(root / "llada_moe")),
            "sdar_moe": build_tiny_sdar_moe(str(root / "sdar_moe"))}


@pytest.mark.parametrize("name", ["dream", "diffucoder"])
def test_dream_tokenizer_loads_natively_and_matches_dreamtokenizer(name: str, hub: dict[str, str]) -> None:
    folder = hub[name]
    files = set(os.listdir(folder))
    assert {"vocab.json", "merges.txt", "tokenizer_config.json"} <= files and "tokenizer.json" not in files
    assert json.load(open(f"{folder}/tokenizer_config.json"))["auto_map"]["AutoTokenizer"][0] == \
        "tokenization_dream.DreamTokenizer"
    tok = load_denoiser(folder).tokenizer
    assert type(tok).__name__ == "Qwen2Tokenizer"
    for case in json.load(open(DATA / "dream_tokenizer_expected.json"))[name]:
        ids = tok(case["text"])["input_ids"]
        assert ids == case["ids"], case["text"]
        assert tok.decode(ids) == case["decoded"]
        assert tok.decode(ids, skip_special_tokens=True) == case["decoded_skip"]
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert prompt == "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n" \
                     "<|im_start|>assistant\n"


def test_diffucoder_ids(hub: dict[str, str]) -> None:
    dream, coder = load_denoiser(hub["dream"]), load_denoiser(hub["diffucoder"])
    vocab = coder.tokenizer.get_vocab()
    assert coder.mask_id == vocab["<|mask|>"] and coder.pad_id == vocab["<|dlm_pad|>"]
    assert coder.eos_ids == (vocab["<|endoftext|>"], vocab["<|im_end|>"], vocab["<|dlm_pad|>"])
    assert dream.eos_ids == coder.eos_ids[:2] and dream.pad_id == vocab["<|endoftext|>"]


def test_trust_remote_code_uses_the_tokenizers_own_class(hub: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "dream"
    shutil.copytree(hub["dream"], folder)
    (folder / "tokenization_dream.py").write_text(  # stands in for the hub's file (a Qwen2 BPE subclass)
        "from transformers import Qwen2Tokenizer\n\n\nclass DreamTokenizer(Qwen2Tokenizer):\n    own_class = True\n")
    tok = load_denoiser(str(folder), trust_remote_code=True).tokenizer
    assert type(tok).__name__ == "DreamTokenizer" and tok.own_class
    assert type(load_denoiser(str(folder)).tokenizer).__name__ == "Qwen2Tokenizer"


def own_code_matches(folder: str, reference: str, skip_first: bool = False) -> None:
    """The adapter's aligned logits of left-padded rows equal those the model's own code gave (tests/data);
    ``skip_first``: the reference left out each row's first real position (Dream's sampler shifts padding's logit
    there; we keep the position's own, see ``unshift``)."""
    ref = json.load(open(DATA / reference))
    denoiser = load_denoiser(folder)
    rows, width = ref["rows"], max(map(len, ref["rows"]))
    ids = torch.tensor([[denoiser.pad_id] * (width - len(r)) + r for r in rows])
    am = torch.tensor([[False] * (width - len(r)) + [True] * len(r) for r in rows])
    out = denoiser(ids, am)
    for b, row in enumerate(rows):
        got = out[b, width - len(row) + int(skip_first):]
        torch.testing.assert_close(got[:, :ref["columns"]], torch.tensor(ref["logits"][b]), atol=1e-4, rtol=0)
        torch.testing.assert_close(got.logsumexp(-1), torch.tensor(ref["logsumexp"][b]), atol=1e-4, rtol=0)


def test_llada_moe_logits_equal_its_own_code_with_left_padding(hub: dict[str, str]) -> None:
    denoiser = load_denoiser(hub["llada_moe"])
    assert (denoiser.family, type(denoiser.model).__name__) == ("llada_moe", "Qwen3MoeForCausalLM")
    vocab = denoiser.tokenizer.get_vocab()
    assert denoiser.mask_id == vocab["<|mask|>"] and denoiser.tokenizer.mask_token_id is None
    assert denoiser.eos_ids == (vocab["<|endoftext|>"], vocab["<|role_end|>"])
    own_code_matches(hub["llada_moe"], "llada_moe_reference_logits.json")


def test_dream_logits_equal_its_own_code_with_left_padding(hub: dict[str, str]) -> None:
    own_code_matches(hub["dream"], "dream_reference_logits.json", skip_first=True)


def test_llada_and_llada2_logits_equal_their_own_code_with_left_padding(tiny_llada: str, tiny_llada2: str) -> None:
    """Their own code ran each row alone (as their generate() does); LLaDA 2.x's first row spans two blocks."""
    own_code_matches(tiny_llada, "llada_reference_logits.json")
    own_code_matches(tiny_llada2, "llada2_reference_logits.json")


def sdar_moe_reference(folder: str, ids: list[int], block: int) -> torch.Tensor:
    """Qwen3-MoE by hand from the checkpoint's names: per-head q/k norms, RoPE, block-causal attention from
    position 0, softmax top-k routing renormalised over the chosen experts."""
    config, w = json.load(open(f"{folder}/config.json")), load_file(f"{folder}/model.safetensors")
    heads, kv, dim, eps = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"], 1e-6
    length = len(ids)
    blocks = torch.arange(length) // block
    allowed = blocks[None, :] <= blocks[:, None]
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = _rms(x, w[p + "input_layernorm.weight"], eps)
        q, k, v = (F.linear(h, w[p + f"self_attn.{n}_proj.weight"]).view(length, -1, dim) for n in "qkv")
        q = _rope(_rms(q, w[p + "self_attn.q_norm.weight"], eps).transpose(0, 1), config["rope_theta"], dim)
        k = _rope(_rms(k, w[p + "self_attn.k_norm.weight"], eps).transpose(0, 1), config["rope_theta"], dim)
        k, v = k.repeat_interleave(heads // kv, 0), v.transpose(0, 1).repeat_interleave(heads // kv, 0)
        scores = (q @ k.transpose(-1, -2) / math.sqrt(dim)).masked_fill(~allowed, float("-inf"))
        x = x + F.linear((torch.softmax(scores, -1) @ v).transpose(0, 1).reshape(length, -1),
                         w[p + "self_attn.o_proj.weight"])
        h = _rms(x, w[p + "post_attention_layernorm.weight"], eps)
        probs = torch.softmax(F.linear(h, w[p + "mlp.gate.weight"]), -1)
        top = probs.topk(config["num_experts_per_tok"], -1)
        weights = top.values / top.values.sum(-1, keepdim=True)
        moe = torch.zeros_like(h)
        for t in range(length):
            for e, weight in zip(top.indices[t].tolist(), weights[t]):
                moe[t] = moe[t] + weight * _mlp(w, f"{p}mlp.experts.{e}.", h[t])
        x = x + moe
    return F.linear(_rms(x, w["model.norm.weight"], eps), w["lm_head.weight"])


def test_sdar_moe_logits_equal_a_hand_written_forward_with_left_padding(hub: dict[str, str]) -> None:
    denoiser = load_denoiser(hub["sdar_moe"])
    assert (denoiser.family, denoiser.spec.block_length) == ("sdar_moe", 4)
    assert denoiser.mask_id == denoiser.tokenizer.convert_tokens_to_ids("<|MASK|>")
    rows = [[5, 17, 42, 99, 3, denoiser.mask_id, denoiser.mask_id, 60, 7], [30, 31, denoiser.mask_id, 9]]
    width = max(map(len, rows))
    ids = torch.tensor([[denoiser.pad_id] * (width - len(r)) + r for r in rows])
    am = torch.tensor([[False] * (width - len(r)) + [True] * len(r) for r in rows])
    out = denoiser(ids, am)
    for b, row in enumerate(rows):
        torch.testing.assert_close(out[b, width - len(row):], sdar_moe_reference(hub["sdar_moe"], row, 4),
                                   atol=1e-4, rtol=1e-4)


def test_the_family_mask_string_wins_over_a_disagreeing_mask_token(tiny_llada: str, tmp_path: Path) -> None:
    folder = tmp_path / "llada"
    shutil.copytree(tiny_llada, folder)
    config = json.load(open(folder / "tokenizer_config.json"))
    json.dump({**config, "mask_token": "<|eot_id|>"}, open(folder / "tokenizer_config.json", "w"))
    denoiser = load_denoiser(str(folder))
    tok = denoiser.tokenizer
    assert tok.mask_token_id == tok.convert_tokens_to_ids("<|eot_id|>")
    assert denoiser.mask_id == tok.convert_tokens_to_ids("<|mdm_mask|>")  # the token LLaDA was trained on
    assert load_denoiser(str(folder), mask_id=7).mask_id == 7


def test_native_loads_do_not_warn_about_the_model_type(tiny_llada: str, hub: dict[str, str],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        for folder in (tiny_llada, hub["llada_moe"], hub["dream"]):
            load_denoiser(folder)
        logging.getLogger("transformers.configuration_utils").warning("a real warning still shows")
    messages = [r.getMessage() for r in caplog.records]
    assert not any("to instantiate a model of type" in m for m in messages)
    assert "a real warning still shows" in messages


def test_device_maps_place_native_models(tiny_llada: str, tmp_path: Path) -> None:
    plain = load_denoiser(tiny_llada)
    ids = torch.tensor([[5, 6, 7, plain.mask_id, plain.mask_id, 9]])
    am = torch.ones_like(ids, dtype=torch.bool)
    split = {"model.embed_tokens": "cpu", "model.rotary_emb": "cpu", "model.layers.0": "cpu",
             "model.layers.1": "disk", "model.norm": "cpu", "lm_head": "cpu"}
    for kwargs in ({"device_map": {"": "cpu"}}, {"device_map": "auto", "max_memory": {"cpu": "1GiB"}},
                   {"device_map": split, "offload_folder": str(tmp_path / "offload")}):
        placed = load_denoiser(tiny_llada, **kwargs)
        assert placed.model.hf_device_map == (kwargs["device_map"] if isinstance(kwargs["device_map"], dict)
                                              else {"": "cpu"})
        torch.testing.assert_close(placed(ids, am), plain(ids, am), atol=0, rtol=0)
    with pytest.raises(ValueError, match=r"device_map='everywhere' is not a placement accelerate knows"):
        load_denoiser(tiny_llada, device_map="everywhere")


def test_bad_folders_get_one_clear_error(tiny_llada: str, hub: dict[str, str], tmp_path: Path) -> None:
    no_weights = tmp_path / "no_weights"
    shutil.copytree(tiny_llada, no_weights)
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"no \*\.safetensors weights"):
        load_denoiser(str(no_weights))
    no_tokenizer = tmp_path / "no_tokenizer"
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(Path(tiny_llada) / name, no_tokenizer / name)
    with pytest.raises(FileNotFoundError, match=r"has no tokenizer files.*copy the tokenizer files"):
        load_denoiser(str(no_tokenizer))
    no_merges = tmp_path / "no_merges"
    shutil.copytree(hub["dream"], no_merges)
    (no_merges / "merges.txt").unlink()
    with pytest.raises(ValueError, match=r"remote tokenizer 'tokenization_dream.DreamTokenizer'.*has no merges.txt.*"
                                         r"trust_remote_code=True"):
        load_denoiser(str(no_merges))
    (no_tokenizer / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"has no config.json: copy the config.json of the hub repo"):
        load_denoiser(str(no_tokenizer))
    unknown = tmp_path / "unknown"
    shutil.copytree(tiny_llada, unknown)
    json.dump({"model_type": "mystery", "architectures": ["MysteryLM"]}, open(unknown / "config.json", "w"))
    with pytest.raises(ValueError, match=r"model_type 'mystery', which --model mdlm does not know how to load"):
        load_denoiser(str(unknown))
    causal = tmp_path / "causal"
    shutil.copytree(tiny_llada, causal)
    json.dump({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}, open(causal / "config.json", "w"))
    with pytest.raises(ValueError, match=r"causal \(left-to-right\) language model \(model_type 'gpt2'\)"):
        load_denoiser(str(causal))


@pytest.mark.parametrize("name", ["dream", "diffucoder", "llada_moe", "sdar_moe", "llada", "sdar", "llada2"])
def test_lm_eval_generates_and_scores_on_each_fixture(name: str, hub: dict[str, str],
                                                      request: pytest.FixtureRequest) -> None:
    import lm_eval
    from lm_eval.tasks import TaskManager

    folder = hub[name] if name in hub else request.getfixturevalue(f"tiny_{name}")
    task = "parallelbench_list_ops_copy_gen"
    manager = TaskManager(include_defaults=False, include_path=str(REPO / "task_yamls"))
    out = lm_eval.simple_evaluate(model="mdlm", model_args=f"pretrained={folder},max_gen_toks=8", tasks=[task],
                                  limit=1, task_manager=manager, device="cpu", log_samples=True)
    assert out["config"]["mdlm"]["family"] == {"diffucoder": "dream"}.get(name, name)
    assert len(out["samples"][task]) == 1
    lm = MDLM(pretrained=folder, device="cpu", mc_num=2)
    (logprob, _), = lm.loglikelihood([Instance("loglikelihood", {}, ("Alice Smith,", " Bob Jones"), 0)],
                                     disable_tqdm=True)
    assert math.isfinite(logprob) and logprob < 0


def test_llada_moe_hub_config_says_llada_and_is_still_llada_moe(hub: dict[str, str]) -> None:
    assert json.load(open(f"{hub['llada_moe']}/config.json"))["model_type"] == "llada"
    assert load_denoiser(hub["llada_moe"]).family == "llada_moe"
    assert load_denoiser(build_tiny_llada(str(Path(hub["llada_moe"]).parent / "dense"))).family == "llada"


def test_sdar_files_as_published_load_without_remote_code(tiny_sdar: str) -> None:
    """SDAR-8B-Chat's tokenizer_config.json names its own tokenization_qwen2.Qwen2Tokenizer (auto_map); its
    tokenizer.json is built natively and tokenizes, decodes and renders chats as that class and its
    chat_template.jinja do (ids and texts in tests/data produced by them)."""
    assert {"tokenizer.json", "vocab.json", "merges.txt", "generation_config.json"} <= set(os.listdir(tiny_sdar))
    assert json.load(open(f"{tiny_sdar}/tokenizer_config.json"))["auto_map"]["AutoTokenizer"][0] == \
        "tokenization_qwen2.Qwen2Tokenizer"
    denoiser = load_denoiser(tiny_sdar)
    tok, expected = denoiser.tokenizer, json.load(open(DATA / "sdar_tokenizer_expected.json"))
    for case in expected["tokenizer"]:
        assert tok(case["text"])["input_ids"] == case["ids"] and tok.decode(case["ids"]) == case["decoded"]
    for case in expected["chat"]:
        assert tok.apply_chat_template(case["messages"], tokenize=False, add_generation_prompt=True) == case["rendered"]
    config = json.load(open(f"{tiny_sdar}/config.json"))
    assert denoiser.mask_id == config["mask_token_id"] == tok.mask_token_id
    assert denoiser.eos_ids == tuple(json.load(open(f"{tiny_sdar}/generation_config.json"))["eos_token_id"])


LLADA_CHAT = ("<|startoftext|><|start_header_id|>system<|end_header_id|>\n\ns<|eot_id|><|start_header_id|>user"
              "<|end_header_id|>\n\na<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nb<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nc<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
"""What dllm's ``get_tokenizer`` template for LLaDA renders for the messages below (checked by running it)."""
LLADA2_CHAT = ("<role>SYSTEM</role>detailed thinking off<|role_end|><role>HUMAN</role>Why did Camus say that Sisyphus "
               "was happy?<|role_end|><role>ASSISTANT</role>")
"""The prompt dFactory's SGLang guide sends LLaDA 2.x (docs/source/infer/sglang.rst)."""


def test_chat_templates_render_as_the_models_do(tiny_llada: str, tiny_llada2: str, hub: dict[str, str]) -> None:
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"}, {"role": "user", "content": "c "}]
    llada = load_denoiser(tiny_llada).tokenizer
    assert llada.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == LLADA_CHAT
    camus = [{"role": "system", "content": "detailed thinking off"},
             {"role": "user", "content": "Why did Camus say that Sisyphus was happy?"}]
    for folder in (tiny_llada2, hub["llada_moe"]):
        tok = load_denoiser(folder).tokenizer
        assert tok.apply_chat_template(camus, tokenize=False, add_generation_prompt=True) == LLADA2_CHAT


def test_a_missing_weight_shard_is_named(tiny_llada: str, tmp_path: Path) -> None:
    folder = tmp_path / "sharded"
    shutil.copytree(tiny_llada, folder)
    weights = load_file(str(folder / "model.safetensors"))
    json.dump({"metadata": {}, "weight_map": {k: f"model-0000{1 + i % 2}-of-00002.safetensors"
                                              for i, k in enumerate(weights)}},
              open(folder / "model.safetensors.index.json", "w"))
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    with pytest.raises(FileNotFoundError, match=r"names 2 weight shards, but model-00002-of-00002.safetensors is "
                                                r"missing\. Download the missing shard"):
        load_denoiser(str(folder))
