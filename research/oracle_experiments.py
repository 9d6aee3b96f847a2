"""ParallelBench §4.2 on the real engine: decode many list-operation requests with an oracle and
compare the measured accuracy with the paper's closed forms.

The closed forms below are the paper's (Eq. 5, §4.2.1-4.2.2, Table 1); the measured side runs
:func:`lm_eval_mdlm.decoding.loop.denoise` on thousands of rows at once, with the answer holding
exactly the n item positions (``layout=bare``, no EOS), so the engine's steps are the paper's
partitions. ``python -m research.oracle_experiments`` prints the table.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.decoding.loop import denoise
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.decoding.schedule import make_schedule
from lm_eval_mdlm.oracle import load_oracle
from lm_eval_mdlm.oracle.list_ops import ListOpOracle, is_valid_answer
from lm_eval_mdlm.oracle.vocab import item_names


# ---------------------------------------------------------------------- closed forms (paper §4.2)
def shuffle_topk(n: int, k: int) -> float:
    """Eq. 5: Π_i P(m_i, k_i) / m_i^k_i over the steps, m_i items left, k_i = min(k, m_i)."""
    acc, m = 1.0, n
    while m > 0:
        take = min(k, m)
        acc *= math.perm(m, take) / m ** take
        m -= take
    return acc


def replace_random_greedy_topk(n: int, k: int) -> float:
    """§4.2.1 (k | n): greedy keeps every item until the last step; k = 2 ties there -> 0.5."""
    if n % k:
        raise ValueError(f"the paper's greedy Replace Random result assumes k | n; got n={n}, k={k}.")
    return 1.0 if k == 1 else 0.5 if k == 2 else 0.0


def replace_random_one_step(n: int) -> float:
    """§4.2.1: one step at temperature 1 keeps each item w.p. (n-1)/n: ((n-1)/n)^(n-1)."""
    return ((n - 1) / n) ** (n - 1)


def shuffle_threshold(threshold: float) -> float:
    """§4.2.2: Shuffle with confidence threshold γ > 0.5 decodes one by one -> 1."""
    if not threshold > 0.5:
        raise ValueError("the paper's Shuffle threshold result covers γ > 0.5 only.")
    return 1.0


def replace_random_threshold(n: int, threshold: float) -> float:
    """§4.2.2 (greedy): 1 if γ >= (n-1)/n, else 0 (all positions commit 'keep' at step 1)."""
    return 1.0 if threshold >= (n - 1) / n else 0.0


# ---------------------------------------------------------------------- measurement
@dataclass(frozen=True)
class Request:
    items: tuple[str, ...]
    word: str
    index: int


def random_requests(n: int, count: int, num_items: int, seed: int) -> list[Request]:
    """``count`` distinct random lists of n distinct items, each with a new item F not in the list
    and a random index. Distinct prompts matter under greedy decoding: the oracle's tie-breaking
    noise is a function of the row, so identical prompts would decode identically."""
    names = item_names(num_items)
    if math.perm(num_items, n) < 2 * count or n >= num_items:
        raise ValueError(f"items={num_items} gives too few distinct lists of n={n} for {count} samples; "
                         "raise the item vocabulary.")
    rng, seen, out = random.Random(seed), set(), []
    while len(out) < count:
        items = tuple(rng.sample(names, n))
        if items in seen:
            continue
        seen.add(items)
        out.append(Request(items, rng.choice([x for x in names if x not in items]), rng.randrange(n)))
    return out


def decode(oracle: ListOpOracle, requests: Sequence[Request], cfg: DecodeConfig) -> list[list[str]]:
    """Run the engine on all requests in one batch; the item lists it answered."""
    n = len(requests[0].items)
    if any(len(r.items) != n for r in requests):
        raise ValueError("decode() needs requests of one list length (one answer length per batch).")
    prompts = [oracle.prompt_ids(r.items, word=r.word, index=r.index) for r in requests]
    length = oracle.answer_length(n)
    out = denoise(oracle, prompts, cfg, make_schedule(cfg, length), mask_id=oracle.mask_id,
                  pad_id=oracle.pad_id, eos_ids=oracle.eos_ids, keys=row_keys(prompts, cfg.seed),
                  device=torch.device("cpu"))
    return [oracle.read_answer(row, n) for row in out.answer.tolist()]


def accuracy(oracle: ListOpOracle, cfg: DecodeConfig, n: int, count: int, seed: int = 0) -> tuple[float, int]:
    """(fraction of valid answers, number of samples) over ``count`` random requests."""
    requests = random_requests(n, count, oracle.vocab.num_items, seed)
    answers = decode(oracle, requests, cfg)
    hits = sum(is_valid_answer(oracle.op, r.items, a, r.word, r.index) for r, a in zip(requests, answers))
    return hits / count, count


def three_sigma(p: float, count: int) -> float:
    """3 binomial standard errors, floored at 3/count so exact 0/1 predictions still allow noise."""
    return 3 * math.sqrt(max(p * (1 - p), 1 / count) / count)


def table(count: int = 2000, items: int = 16) -> list[dict]:
    """Measured vs predicted accuracy for the §4.2 settings (the rows of Table 1)."""
    rows = []

    def add(op: str, n: int, label: str, cfg: DecodeConfig, predicted: float) -> None:
        oracle = load_oracle(f"oracle:{op}?layout=bare&items={items}")
        measured, _ = accuracy(oracle, cfg, n, count, seed=n)
        rows.append({"op": op, "n": n, "setting": label, "predicted": predicted, "measured": measured,
                     "within_3sigma": abs(measured - predicted) <= three_sigma(predicted, count)})

    for n, k in ((4, 2), (6, 2), (6, 3), (6, 6)):
        for temp in (0.0, 1.0):
            add("shuffle", n, f"top-{k} random, T={temp:g}", DecodeConfig(k=k, score="random", temperature=temp),
                shuffle_topk(n, k))
    for n, k in ((4, 2), (6, 2), (6, 3)):
        add("replace_random", n, f"top-{k} confidence, T=0", DecodeConfig(k=k), replace_random_greedy_topk(n, k))
    for n in (4, 6):
        add("replace_random", n, "one step, T=1", DecodeConfig(k=n, temperature=1.0), replace_random_one_step(n))
    add("shuffle", 6, "threshold 0.7", DecodeConfig(strategy="threshold", threshold=0.7), shuffle_threshold(0.7))
    for gamma in (0.8, 0.9):
        add("replace_random", 6, f"threshold {gamma}", DecodeConfig(strategy="threshold", threshold=gamma),
            replace_random_threshold(6, gamma))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="ParallelBench §4.2 accuracies on the oracle, vs closed forms.")
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"{'op':15} {'n':>2}  {'setting':28} {'predicted':>9} {'measured':>9}  3σ")
    for r in table(args.samples):
        print(f"{r['op']:15} {r['n']:>2}  {r['setting']:28} {r['predicted']:9.4f} {r['measured']:9.4f}  "
              f"{'ok' if r['within_3sigma'] else 'OUT'}")


if __name__ == "__main__":
    main()
