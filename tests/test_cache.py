"""KV caching (``cache=prefix|dual``) on tiny LLaDA and Dream checkpoints loaded natively.

What the cache must do (lm_eval_mdlm/families/cache.py): a refresh is exactly the no-cache forward; a
cached step equals a full forward in which every layer sees the refresh's keys/values at the positions
it does not feed (checked against the hand-written forward of tests/test_families.py); left padding,
rows in different blocks and batch size change nothing; NFE counts refreshes; unsupported models fail
before any forward.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lm_eval_mdlm.config import ConfigError, DecodeConfig
from lm_eval_mdlm.decoding.loop import build_canvas, denoise
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.decoding.schedule import make_schedule
from lm_eval_mdlm.families import load_denoiser
from lm_eval_mdlm.families.cache import BlockCache
from lm_eval_mdlm.model import MDLM

from test_families import reference_forward, reference_logits
from test_model import PROMPTS, request

FAMILIES = ["tiny_llada", "tiny_dream"]
MODES = ["prefix", "dual"]
BLOCK = 4


def block_window(start: torch.Tensor, block: torch.Tensor, length: int) -> torch.Tensor:
    """Canvas positions of each row's block, repeated at the end as the loop does."""
    return start + (block[:, None] * BLOCK + torch.arange(BLOCK)).clamp(max=length - 1)


def window_logits(logits: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    return logits.gather(1, window[:, :, None].expand(-1, -1, logits.shape[-1]))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fixture", FAMILIES)
def test_refresh_is_exactly_the_no_cache_forward(fixture: str, mode: str, request: pytest.FixtureRequest) -> None:
    denoiser = load_denoiser(request.getfixturevalue(fixture))
    prompts = [[5, 6, 7, 8, 9], [20, 21], [30, 31, 32, 33, 34, 35, 36]]
    x, attention = build_canvas(prompts, 12, denoiser.mask_id, denoiser.pad_id, torch.device("cpu"))
    rows = torch.arange(3)
    window = block_window(x.shape[1] - 12, torch.zeros(3, dtype=torch.long), 12)
    cached = denoiser.block_cache(mode, 3)(x, attention, rows, window, torch.ones(3, dtype=torch.bool))
    assert torch.equal(cached, window_logits(denoiser(x, attention), window))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fixture", FAMILIES)
def test_a_step_is_a_forward_that_sees_the_refresh_keys_outside_the_fed_span(
        fixture: str, mode: str, request: pytest.FixtureRequest) -> None:
    folder = request.getfixturevalue(fixture)
    denoiser = load_denoiser(folder)
    shift = int(denoiser.spec.shift_logits)
    prompt, length, block = [5, 17, 42, 99, 3, 150], 12, 1
    start = len(prompt)
    before = prompt + [denoiser.mask_id] * length
    # Between refresh and step the block gets two tokens, and so do a prompt and a suffix position:
    # the step must see the prompt one (and with dual the suffix one) only through the refresh's
    # keys/values, i.e. not at all.
    after = list(before)
    s = start + block * BLOCK
    after[s + 1], after[s + 2], after[1], after[start + 10] = 60, 61, 62, 63
    cache = denoiser.block_cache(mode, 1)
    rows, window = torch.tensor([0]), block_window(start, torch.tensor([block]), length)
    attention = torch.ones(1, len(before), dtype=torch.bool)
    cache(torch.tensor([before]), attention, rows, window, torch.tensor([True]))
    got = cache(torch.tensor([after]), attention, rows, window, torch.tensor([False]))[0]

    fed = range(s - shift, s + BLOCK if mode == "dual" else len(after))  # prefix also feeds the suffix
    _, frozen = reference_forward(folder, before)
    expected, _ = reference_forward(folder, after, fed=fed, frozen=frozen)
    torch.testing.assert_close(got, expected[window[0] - shift], atol=1e-4, rtol=1e-4)
    exact = reference_logits(folder, after)[window[0]]
    assert (got - exact).abs().max() > 1e-3  # the cache is an approximation, and this shows it


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fixture", FAMILIES)
def test_padding_and_rows_in_other_blocks_change_nothing(fixture: str, mode: str,
                                                          request: pytest.FixtureRequest) -> None:
    denoiser = load_denoiser(request.getfixturevalue(fixture))
    prompts, length = [[5, 6, 7, 8, 9], [20, 21], [30, 31, 32, 33, 34, 35, 36]], 10
    blocks = torch.tensor([0, 1, 2])  # the last block is shorter: the window repeats its last position

    def run(rows_prompts: list[list[int]], row_blocks: torch.Tensor, refresh: torch.Tensor) -> torch.Tensor:
        x, attention = build_canvas(rows_prompts, length, denoiser.mask_id, denoiser.pad_id, torch.device("cpu"))
        start, n = x.shape[1] - length, len(rows_prompts)
        cache, rows = denoiser.block_cache(mode, n), torch.arange(n)
        window = block_window(start, row_blocks, length)
        cache(x, attention, rows, window, torch.ones(n, dtype=torch.bool))
        x[:, start:start + 2 * BLOCK] = 40 + torch.arange(2 * BLOCK)  # committed since the refresh
        return cache(x, attention, rows, window, refresh)

    batch = run(prompts, blocks, torch.tensor([False, True, False]))  # one row refreshes, two step
    for i, prompt in enumerate(prompts):
        alone = run([prompt], blocks[i:i + 1], torch.tensor([i == 1]))
        torch.testing.assert_close(batch[i], alone[0], atol=1e-5, rtol=1e-5)


def generate(path: str, batch_size: int, **model_args) -> list:
    lm = MDLM(pretrained=path, batch_size=batch_size, device="cpu", **model_args)
    return lm.generate_until([request(c, doc_id=i) for i, c in enumerate(PROMPTS)], disable_tqdm=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fixture", FAMILIES)
def test_batch_size_never_changes_the_output(fixture: str, mode: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    runs = [[(str(o), o.trace["finalization_steps"], o.trace["nfe"])
             for o in generate(path, batch_size, k=2, block_length=BLOCK, cache=mode)] for batch_size in (1, 3, 8)]
    assert runs[0] == runs[1] == runs[2]
    assert any(r[0] for r in runs[0])  # something was generated


@pytest.mark.parametrize("mode", MODES)
def test_nfe_counts_refreshes(tiny_llada: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    denoiser = load_denoiser(tiny_llada)
    refreshed: list[int] = []
    original = BlockCache.refresh

    def counting(self: BlockCache, x: torch.Tensor, attention: torch.Tensor, rows: torch.Tensor,
                 window: torch.Tensor) -> torch.Tensor:
        refreshed.extend(rows.tolist())
        return original(self, x, attention, rows, window)

    monkeypatch.setattr(BlockCache, "refresh", counting)
    length, block, k = 13, 5, 3
    prompts = [denoiser.tokenizer(p).input_ids for p in PROMPTS[:3]]
    cfg = DecodeConfig(k=k, block_length=block, cache=mode)
    out = denoise(denoiser, prompts, cfg, make_schedule(cfg, length), mask_id=denoiser.mask_id,
                  pad_id=denoiser.pad_id, eos_ids=(), keys=row_keys(prompts, 0), device=torch.device("cpu"))
    sizes = [5, 5, 3]  # a block of n tokens takes ceil(n / k) forwards; the first is its refresh
    assert out.nfe.tolist() == [sum(-(-n // k) for n in sizes)] * 3
    assert sorted(refreshed) == sorted([0, 1, 2] * len(sizes))


def test_errors_name_the_family_the_mode_and_the_fix(tiny_bert: str, tiny_llada: str) -> None:
    with pytest.raises(ConfigError, match=r"cache=dual reuses keys/values across the steps of a semi-autoregressive "
                                          r"block, so it needs block_length \(e.g. block_length=32\); set it, "
                                          r"or use cache=none"):
        DecodeConfig(cache="dual")
    with pytest.raises(ConfigError, match=r"cache='kv' is unknown; valid values: none, prefix, dual"):
        DecodeConfig(cache="kv", block_length=4)
    with pytest.raises(ConfigError, match=r"cache=prefix with block_length=32 puts this request's whole answer \(13 "
                                          r"tokens\) in one block.*use a block_length below 13.*or cache=none"):
        make_schedule(DecodeConfig(cache="prefix", block_length=32), 13)
    supported = r"Use cache=none, or a checkpoint of a family that supports KV caching when loaded natively: " \
        r"llada, llada_moe, dream"
    with pytest.raises(ConfigError, match=rf"cache=prefix cannot be used here: family=masked_lm has no KV "
                                          rf"cache.*{supported}"):
        MDLM(pretrained=tiny_bert, device="cpu", cache="prefix", block_length=4)
    lm = MDLM(pretrained=tiny_bert, device="cpu")  # per-request gen_kwargs fail before any forward too
    with pytest.raises(ConfigError, match=r"cache=dual cannot be used here: family=masked_lm"):
        lm.generate_until([request("hello", cache="dual", block_length=4)], disable_tqdm=True)
    with pytest.raises(ConfigError, match=r"cache=prefix cannot be used with family=oracle: .*Use cache=none"):
        MDLM(pretrained="oracle:copy", device="cpu", cache="prefix", block_length=4)
    remote = load_denoiser(tiny_llada)
    remote.spec = dataclasses.replace(remote.spec, kv_cache=False)  # what family=llada:remote loads
    with pytest.raises(ConfigError, match=r"family=llada:remote runs the checkpoint's own modeling code.*"
                                          r"load it natively \(family=llada, without ':remote'\)"):
        remote.check_cache("dual")


@pytest.mark.parametrize("fixture", FAMILIES)
def test_agreement_with_no_cache(fixture: str, request: pytest.FixtureRequest) -> None:
    """Share of answer tokens equal to cache=none's (benchmarks/bench_cache.py prints it on larger models).

    Random weights are the worst case (one changed token changes everything after it), so the
    properties are loose: tokens committed at the first forward (a refresh of the same canvas) agree
    exactly, and agreement is far above chance."""
    denoiser = load_denoiser(request.getfixturevalue(fixture))
    prompts = [denoiser.tokenizer(p).input_ids for p in PROMPTS]
    outs = {}
    for mode in ["none", *MODES]:
        cfg = DecodeConfig(k=2, block_length=BLOCK, cache=mode)
        outs[mode] = denoise(denoiser, prompts, cfg, make_schedule(cfg, 16), mask_id=denoiser.mask_id,
                             pad_id=denoiser.pad_id, eos_ids=(), keys=row_keys(prompts, 0), device=torch.device("cpu"))
    base = outs["none"]
    first = base.finalized_at == 1
    for mode in MODES:
        out = outs[mode]
        assert torch.equal(out.finalized_at == 1, first) and torch.equal(out.answer[first], base.answer[first])
        share = (out.answer == base.answer).float().mean().item()
        print(f"{fixture} cache={mode}: {share:.2f} of answer tokens equal cache=none's")
        assert share > 10 / len(denoiser.tokenizer)


def test_cache_none_spelled_on_the_command_line_is_the_default() -> None:
    from lm_eval_mdlm.config import coerce

    assert DecodeConfig(**coerce({"cache": "none"})) == DecodeConfig(**coerce({"cache": "None"})) == DecodeConfig()
    with pytest.raises(ConfigError, match="strategy='none'.*topk"):
        DecodeConfig(**coerce({"strategy": "none"}))
    with pytest.raises(ConfigError, match="cache cannot be empty"):
        coerce({"cache": ""})
