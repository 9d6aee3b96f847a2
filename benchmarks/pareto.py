"""Accuracy vs forwards per answer for every parallel decoding strategy, psd included: one table and one PNG.

For each operation, lm-eval's Python API decodes it with ``--model mdlm`` under top-k, confidence thresholds
(0.5 to 0.99), factor, eb, klass, edit and psd (match and lossless acceptance), on the default model's Waiting
Line (chat template, one-shot) and on the exact oracles (``pretrained=oracle:<op>``, ParallelBench's list
operations; the oracles have no insert_random). Each point is (forward calls per answer ``nfe``, rows run
through the model per answer ``row_forwards``, accuracy). A psd verification of D drafts is one forward call
but D rows, so the two x axes tell apart the calls a GPU serves as one batch from the work a CPU does.

For every setting the table names the best accuracy any *other* strategy reaches with at most as many
forwards: psd lies above the frontier where its accuracy exceeds that.

Run: ``OMP_NUM_THREADS=2 python benchmarks/pareto.py [--limit 100] [--out pareto.png]``.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import lm_eval

WAITING_LINE = ("shuffle", "insert_random", "replace_random")
ORACLE = ("shuffle", "replace_random")
SETTINGS = [
    ("topk", "k=1", "k=1"), ("topk", "k=2", "k=2"), ("topk", "k=4", "k=4"),
    *[("threshold", f"{t}", f"strategy=threshold,threshold={t}") for t in (0.5, 0.7, 0.9, 0.95, 0.99)],
    ("factor", "1.0", "strategy=factor,factor=1.0"), ("factor", "2.0", "strategy=factor,factor=2.0"),
    ("eb", "0.1", "strategy=eb,entropy_bound=0.1"), ("eb", "1.0", "strategy=eb,entropy_bound=1.0"),
    ("klass", "0.9", "strategy=klass,klass_confidence=0.9,klass_kl=0.01"),
    ("edit", "0.9", "strategy=edit,threshold=0.9,edit_threshold=0.9"),
    *[("psd", f"match t={t} D=4", f"strategy=psd,threshold={t},psd_depth=4") for t in (0.7, 0.9, 0.95)],
    ("psd", "match top1 D=4", "strategy=psd,psd_policy=top1,psd_depth=4"),
    *[("psd", f"lossless D={d}", f"strategy=psd,psd_policy=top1,psd_accept=lossless,psd_depth={d}") for d in (4, 8)],
]


def evaluate(model_args: str, task: str, limit: int | None, chat: bool, batch_size: int) -> tuple[float, ...]:
    """(accuracy, forwards per answer, rows per answer) of one setting on one task."""
    out: dict[str, Any] = lm_eval.simple_evaluate(
        model="mdlm", model_args=model_args, tasks=[task], limit=limit, device="cpu", batch_size=batch_size,
        apply_chat_template=chat, fewshot_as_multiturn=chat)
    result = out["results"][task]
    rows = out["config"]["mdlm"]["decoding_traces"][task]["row_forwards"]
    return result["score,none"], result["nfe,none"], rows


def frontier_gap(points: list[tuple[str, str, float, float, float]]) -> list[str]:
    """Per point: the best accuracy of another strategy with at most its forwards ('-' if none)."""
    out = []
    for family, _, acc, nfe, _ in points:
        rivals = [a for f, _, a, n, _ in points if f != family and n <= nfe]
        out.append(f"{100 * max(rivals):.0f}" if rivals else "-")
    return out


def plot(results: dict[str, list[tuple[str, str, float, float, float]]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 2, figsize=(11, 3.2 * len(results)), squeeze=False)
    for row, (name, points) in enumerate(results.items()):
        for col, (index, label) in enumerate(((3, "forward calls per answer"), (4, "rows run per answer"))):
            ax = axes[row][col]
            for family in dict.fromkeys(p[0] for p in points):
                mine = sorted((p for p in points if p[0] == family), key=lambda p: p[index])
                ax.plot([p[index] for p in mine], [100 * p[2] for p in mine], marker="o", label=family)
            ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel("accuracy %")
            ax.set_title(name, fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100, help="documents per operation")
    parser.add_argument("--out", default="pareto.png")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--pretrained", default=None, help="Waiting Line model folder (default: the default model)")
    args = parser.parse_args()
    logging.getLogger("lm-eval").setLevel(logging.WARNING)
    base = f"pretrained={args.pretrained}," if args.pretrained else ""
    jobs = [(f"default model, waiting_line {op}", f"parallelbench_waiting_line_{op}_gen", base, True)
            for op in WAITING_LINE]
    jobs += [(f"oracle, list_ops {op}", f"parallelbench_list_ops_{op}_gen", f"pretrained=oracle:{op},", False)
             for op in ORACLE]
    results: dict[str, list[tuple[str, str, float, float, float]]] = {}
    for name, task, model, chat in jobs:
        results[name] = [(family, label, *evaluate(model + knobs, task, args.limit, chat, args.batch_size))
                         for family, label, knobs in SETTINGS]
    print(f"{args.limit} documents per operation. acc = accuracy %; nfe = forward calls per answer; rows = rows run "
          "per answer; rival = best accuracy % of another strategy with at most this nfe.\n")
    print("| task | strategy | setting | acc | nfe | rows | rival |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name, points in results.items():
        for (family, label, acc, nfe, rows), rival in zip(points, frontier_gap(points)):
            print(f"| {name} | {family} | {label} | {100 * acc:.0f} | {nfe:.2f} | {rows:.2f} | {rival} |")
    plot(results, args.out)
    print(f"\nfrontier plot: {args.out}")


if __name__ == "__main__":
    main()
