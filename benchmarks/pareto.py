"""Accuracy vs forwards per answer for every parallel decoding strategy, psd included: one table and one PNG.

For each operation, lm-eval's Python API decodes it with ``--model mdlm`` under top-k, confidence thresholds
(0.5 to 0.99), factor, eb, klass, edit and psd (match and lossless acceptance), on the default model's Waiting
Line (chat template, one-shot) and on the exact oracles (``pretrained=oracle:<op>``, ParallelBench's list
operations; the oracles have no insert_random). Each point is (forward calls per answer ``nfe``, rows run
through the model per answer ``row_forwards``, accuracy). A psd verification of D drafts is one forward call
but D rows, so the two x axes tell apart the calls a GPU serves as one batch from the work a CPU does.

Speed without changing what is measured: each model is loaded once and lm-eval's task index built once; a
setting reaches the model as ``gen_kwargs`` (every decoding knob is one, ``split_gen_kwargs``), exactly as
``--model_args`` would set it (``tests/test_pareto.py`` checks the two paths agree). Batch size never changes
an output.

The run writes a JSON record (command, date, commit, every point); the docs' table and the PNG are rendered
from it (``--from_record``), so ``docs/psd.md`` quotes recorded numbers only.

Run: ``OMP_NUM_THREADS=1 python benchmarks/pareto.py [--limit 100] [--record benchmarks/results/pareto.json]
[--out docs/psd_pareto.png]``; re-render: ``python benchmarks/pareto.py --from_record benchmarks/results/pareto.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import subprocess
import sys
import time
from typing import Any

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
"""(strategy, label, knobs as ``key=value`` pairs, passed as gen_kwargs or appended to model_args)."""

Point = tuple[str, str, float, float, float]
"""(strategy, setting, accuracy in [0, 1], forward calls per answer, rows per answer)."""

SPEEDUP = 1.25
"""'Fewer forwards at equal accuracy' counts when psd needs at most 1 / SPEEDUP of a rival's forwards."""


def jobs(pretrained: str | None) -> list[tuple[str, str, str | None, bool]]:
    """(name, task, model folder, chat template) for every operation."""
    out = [(f"default model, waiting_line {op}", f"parallelbench_waiting_line_{op}_gen", pretrained, True)
           for op in WAITING_LINE]
    return out + [(f"oracle, list_ops {op}", f"parallelbench_list_ops_{op}_gen", f"oracle:{op}", False)
                  for op in ORACLE]


def evaluate(model: Any, task: str, knobs: str, limit: int | None, chat: bool, manager: Any = None,
             batch_size: int = 16) -> dict[str, float]:
    """Accuracy, forwards and rows per answer of one setting on one task.

    ``model`` is a loaded ``MDLM`` (``knobs`` go in as gen_kwargs) or a ``--model_args`` prefix string such as
    ``"pretrained=oracle:shuffle,"`` (``knobs`` are appended and a fresh model is loaded: the slow path).
    """
    import lm_eval

    from lm_eval_mdlm import traces

    common = dict(tasks=[task], limit=limit, apply_chat_template=chat, fewshot_as_multiturn=chat,
                  task_manager=manager, bootstrap_iters=0, log_samples=False)
    if isinstance(model, str):
        out = lm_eval.simple_evaluate(model="mdlm", model_args=model + knobs, device="cpu", batch_size=batch_size,
                                      **common)
        summary = out["config"]["mdlm"]["decoding_traces"][task]
    else:
        first = len(model.traces)
        out = lm_eval.simple_evaluate(model=model, gen_kwargs=knobs, **common)
        summary = traces.summarize(model.traces[first:])[task]
    result = out["results"][task]
    return {"accuracy": result["score,none"], "nfe": result["nfe,none"], "row_forwards": summary["row_forwards"],
            "samples": summary["samples"]}


def run(record: dict[str, Any], path: str, pretrained: str | None) -> None:
    """Every setting on every operation into ``record["points"]``, one model instance per model folder and one
    task index; the record is rewritten after every point (``complete`` false until the last)."""
    from lm_eval.tasks import TaskManager

    from lm_eval_mdlm.model import MDLM

    manager, models, points = TaskManager(), {}, record.setdefault("points", [])
    for name, task, folder, chat in jobs(pretrained):
        if record["only"] and not any(part in name for part in record["only"]):
            continue
        if folder not in models:
            models[folder] = MDLM(pretrained=folder, batch_size=record["batch_size"], device="cpu")
        for strategy, label, knobs in SETTINGS:
            start = time.perf_counter()
            point = evaluate(models[folder], task, knobs, record["limit"], chat, manager)
            points.append({"name": name, "task": task, "strategy": strategy, "setting": label, "knobs": knobs,
                           **point, "seconds": round(time.perf_counter() - start, 1)})
            print(json.dumps(points[-1]), flush=True)
            write(record, path)


def write(record: dict[str, Any], path: str) -> None:
    """Write the record as indented JSON."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)


def frontier_gap(points: list[Point]) -> list[str]:
    """Per point: the best accuracy of another strategy with at most its forwards ('-' if none)."""
    out = []
    for family, _, acc, nfe, _ in points:
        rivals = [a for f, _, a, n, _ in points if f != family and n <= nfe]
        out.append(f"{100 * max(rivals):.0f}" if rivals else "-")
    return out


def undominated(points: list[Point], family: str = "psd") -> list[Point]:
    """Points of other strategies that no ``family`` point beats: none with higher accuracy at no more forward
    calls, and none with at least the same accuracy at ``SPEEDUP`` times fewer. Empty = strictly above."""
    mine = [p for p in points if p[0] == family]
    return [p for p in points if p[0] != family and not any(
        (m[2] > p[2] and m[3] <= p[3]) or (m[2] >= p[2] and SPEEDUP * m[3] <= p[3]) for m in mine)]


def by_task(points: list[dict[str, Any]]) -> dict[str, list[Point]]:
    """The record's points grouped per operation, as :data:`Point` tuples."""
    out: dict[str, list[Point]] = {}
    for p in points:
        out.setdefault(p["name"], []).append((p["strategy"], p["setting"], p["accuracy"], p["nfe"],
                                              p["row_forwards"]))
    return out


def merge(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One record from runs of the same settings split over processes (``--only``): each operation's points come
    from the first record that finished it; provenance lists every run."""
    if len({(r["limit"], r["batch_size"], r["threads"]) for r in records}) != 1:
        raise ValueError("records to merge must share limit, batch_size and threads")
    points = []
    for name, *_ in jobs(None):
        done = [r for r in records if sum(p["name"] == name for p in r["points"]) == len(SETTINGS)]
        points += [p for p in done[0]["points"] if p["name"] == name] if done else []
    return {**records[0], "command": " + ".join(r["command"] for r in records),
            "commit": " + ".join(r["commit"] for r in records), "date": " + ".join(r["date"] for r in records),
            "points": points, "complete": len(points) == len(SETTINGS) * len(jobs(None)),
            "seconds": [r.get("seconds") for r in records]}


def markdown_table(record: dict[str, Any]) -> str:
    """The docs' table: one row per setting and operation, with the best rival accuracy."""
    lines = ["| task | strategy | setting | acc | nfe | rows | rival |", "|---|---|---|---:|---:|---:|---:|"]
    for name, points in by_task(record["points"]).items():
        for (family, label, acc, nfe, rows), rival in zip(points, frontier_gap(points)):
            lines.append(f"| {name} | {family} | {label} | {100 * acc:.0f} | {nfe:.2f} | {rows:.2f} | {rival} |")
    return "\n".join(lines)


def verdicts(record: dict[str, Any]) -> str:
    """Per operation: whether psd lies strictly above every other strategy, and which points it does not beat;
    and lossless psd's forward calls and rows against k=1's. Operations the run has not finished say so."""
    lines = []
    for name, points in by_task(record["points"]).items():
        if len(points) < len(SETTINGS):
            lines.append(f"- {name}: not finished ({len(points)} of {len(SETTINGS)} settings recorded), no verdict.")
            continue
        left = undominated(points)
        beaten = "yes" if not left else "no; not beaten: " + ", ".join(
            f"{f} {s} ({100 * a:.0f} % at {n:.2f} calls)" for f, s, a, n, _ in left)
        k1 = next(p for p in points if p[1] == "k=1")
        lossless = ", ".join(f"{s}: {k1[3] / n:.2f}x fewer calls ({n:.2f}), {r / k1[4]:.2f}x k=1's rows ({r:.2f}), "
                             f"acc {100 * a:.0f} % (k=1 {100 * k1[2]:.0f} %)"
                             for f, s, a, n, r in points if s.startswith("lossless"))
        lines.append(f"- {name}: psd strictly above every other strategy: {beaten}. Lossless vs k=1: {lossless}.")
    return "\n".join(lines)


def docs_block(record: dict[str, Any]) -> str:
    """What docs/psd.md quotes: the run's provenance, the table and the verdicts, all from the record."""
    done = len(record["points"])
    total = len(SETTINGS) * len(jobs(None))
    status = "complete" if record.get("complete") else f"unfinished: {done} of {total} points recorded"
    head = (f"Record `benchmarks/results/pareto.json` ({status}): `{record['command']}`, {record['date']}, commit "
            f"{record['commit']}, {record['limit']} documents per operation, batch {record['batch_size']}, "
            f"OMP_NUM_THREADS={record['threads']}.")
    return f"{head}\n\n{markdown_table(record)}\n\n{verdicts(record)}"


def plot(record: dict[str, Any], path: str) -> None:
    """Accuracy vs forward calls (left) and vs rows (right), one row of panels per operation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = by_task(record["points"])
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
            ax.set_title(f"{name} ({record['limit']} documents)", fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def commit() -> str:
    """The checkout's commit, with ``-dirty`` when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()

    return git("rev-parse", "HEAD") + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100, help="documents per operation")
    parser.add_argument("--batch_size", type=int, default=16, help="rows per batch (never changes an output)")
    parser.add_argument("--pretrained", default=None, help="Waiting Line model folder (default: the default model)")
    parser.add_argument("--record", default="benchmarks/results/pareto.json", help="JSON record to write")
    parser.add_argument("--out", default="docs/psd_pareto.png", help="PNG of the frontier")
    parser.add_argument("--only", default="", help="comma-separated parts of operation names to run (default: all)")
    parser.add_argument("--from_record", default=None, nargs="+",
                        help="only render the table and PNG of this record (several: merged into --record)")
    args = parser.parse_args()
    if args.from_record:
        records = []
        for path in args.from_record:
            with open(path, encoding="utf-8") as f:
                records.append(json.load(f))
        record = records[0] if len(records) == 1 else merge(records)
        if len(records) > 1:
            write(record, args.record)
    else:
        logging.getLogger("lm-eval").setLevel(logging.WARNING)
        start = time.perf_counter()
        record = {"command": " ".join(["python", *sys.argv]), "commit": commit(),
                  "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  "threads": os.environ.get("OMP_NUM_THREADS"), "limit": args.limit, "batch_size": args.batch_size,
                  "only": [part for part in args.only.split(",") if part], "complete": False}
        run(record, args.record, args.pretrained)
        record.update(complete=True, seconds=round(time.perf_counter() - start))
        write(record, args.record)
    print(f"{record['limit']} documents per operation. acc = accuracy %; nfe = forward calls per answer; rows = "
          "rows run per answer; rival = best accuracy % of another strategy with at most this nfe.\n")
    print(docs_block(record))
    plot(record, args.out)
    print(f"\nfrontier plot: {args.out}")


if __name__ == "__main__":
    main()
