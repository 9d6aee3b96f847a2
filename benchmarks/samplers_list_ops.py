"""Every sampler vs top-k and threshold on ParallelBench's list operations, with the exact oracles.

For each list operation (copy, replace_index, replace_random, shuffle) the exact oracle model
(``pretrained=oracle:<op>``) is decoded through lm-eval by every strategy. The table gives accuracy
and NFE as a ratio to one-token-per-step top-k (both measured in this run), so the quality/speed
trade-off of each sampler reads directly: below 1.00 = fewer forwards.

Run: ``OMP_NUM_THREADS=1 python benchmarks/samplers_list_ops.py [--limit 100]``.
"""

from __future__ import annotations

import argparse
import logging

import lm_eval

OPS = ("copy", "replace_index", "replace_random", "shuffle")
SETTINGS = [
    ("top-k k=1", "k=1"), ("top-k k=2", "k=2"), ("threshold 0.9", "strategy=threshold,threshold=0.9"),
    ("factor 1.0", "strategy=factor,factor=1.0"), ("eb 0.1", "strategy=eb,entropy_bound=0.1"),
    ("eb 1.0", "strategy=eb,entropy_bound=1.0"), ("dilated", "strategy=dilated"),
    ("klass", "strategy=klass,klass_confidence=0.9,klass_kl=0.01"),
    ("remdm cap k=2", "strategy=remdm,k=2,remdm_variant=cap,remdm_eta=0.04,temperature=1.0"),
    ("rcr k=2", "strategy=rcr,k=2"), ("edit", "strategy=edit,threshold=0.9,edit_threshold=0.9"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    logging.getLogger("lm-eval").setLevel(logging.WARNING)
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for op in OPS:
        task = f"parallelbench_list_ops_{op}_gen"
        for name, knobs in SETTINGS:
            out = lm_eval.simple_evaluate(model="mdlm", model_args=f"pretrained=oracle:{op},{knobs}", tasks=[task],
                                          limit=args.limit, device="cpu", batch_size=32)
            result = out["results"][task]
            table.setdefault(name, {})[op] = (result["score,none"], result["nfe,none"])
    print(f"List operations (n = 3..6, exact oracles), {args.limit} samples each: "
          "accuracy % / NFE ratio to top-k k=1\n")
    print("| sampler | " + " | ".join(OPS) + " |")
    print("|---|" + "---:|" * len(OPS))
    for name, _ in SETTINGS:
        cells = [f"{100 * table[name][op][0]:.0f} / {table[name][op][1] / table['top-k k=1'][op][1]:.2f}" for op in OPS]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
