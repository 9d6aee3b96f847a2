"""Window-only LM head: transformers' decoders project only the decided positions onto the vocabulary, with
the same tokens as full-canvas logits gathered at the window, with and without a KV cache."""

from __future__ import annotations

import pytest
import torch

from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.decoding.loop import denoise
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.decoding.schedule import make_schedule
from lm_eval_mdlm.families import load_denoiser

PROMPTS = ["The cat sat on", "1 2 3 4", "a b", "Once upon a time there"]
NATIVE = ["tiny_llada", "tiny_dream", "tiny_sdar", "tiny_llada2"]


def _decode(denoiser, cfg: DecodeConfig, length: int = 12):
    prompts = [denoiser.tokenizer(p)["input_ids"] for p in PROMPTS]
    cfg = denoiser.decode_config(cfg)
    schedule = make_schedule(cfg, length, aligned=denoiser.block_causal)
    return denoise(denoiser, prompts, cfg, schedule, mask_id=denoiser.mask_id, pad_id=denoiser.pad_id,
                   eos_ids=denoiser.eos_ids, keys=row_keys(prompts, cfg.seed), device=torch.device("cpu"))


def _head_widths(denoiser) -> list[int]:
    """Record the sequence width of every input the LM head projects."""
    widths: list[int] = []
    denoiser.model.get_output_embeddings().register_forward_hook(lambda m, args, out: widths.append(args[0].shape[1]))
    return widths


@pytest.mark.parametrize("cache", ["none", "prefix", "dual"])
@pytest.mark.parametrize("fixture", NATIVE)
def test_window_head_gives_the_full_heads_tokens(fixture: str, cache: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    cfg = DecodeConfig(strategy="threshold", threshold=0.3, block_length=4, cache=cache)
    window, full = load_denoiser(path), load_denoiser(path)
    full._keep = False  # today's path: full-canvas logits, gathered at the window
    widths = _head_widths(window)
    fast, slow = _decode(window, cfg), _decode(full, cfg)
    assert torch.equal(fast.answer, slow.answer) and torch.equal(fast.finalized_at, slow.finalized_at)
    assert widths and max(widths) == 4  # the head only ever saw the 4 positions of a block


@pytest.mark.parametrize("fixture", NATIVE)
def test_window_logits_equal_full_logits_at_the_window(fixture: str, request: pytest.FixtureRequest) -> None:
    denoiser = load_denoiser(request.getfixturevalue(fixture))
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (3, 10), generator=gen)
    attention = torch.ones(3, 10, dtype=torch.bool)
    attention[1, :3] = attention[2, :6] = False  # left padding: the shifted head's first real token differs
    window = torch.tensor([[6, 7, 8], [3, 4, 5], [6, 7, 8]])  # row 2 starts at its first real token
    full = denoiser(ids, attention)
    expected = full.gather(1, window[:, :, None].expand(-1, -1, full.shape[-1]))
    torch.testing.assert_close(denoiser(ids, attention, window=window), expected, rtol=1e-5, atol=1e-5)
