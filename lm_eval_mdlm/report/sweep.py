"""``lm-eval-mdlm sweep``: a grid of decoding settings over tasks, one lm-eval output folder per cell.

A cell = one entry of ``--tasks`` (a task, a group, or ``a,b`` run together) x one decoding setting.
It is written where ``lm_eval --output_path OUT/<tasks>/<setting> --log_samples`` would write it:
``OUT/<tasks>/<setting>/<model>/results_<date>.json`` + ``samples_*`` + ``mdlm_traces_*``, plus our
``sweep_cell.json`` (what the cell ran). So ``report`` (or any lm-eval tool) reads a sweep like any run.

Resumable: a cell is evaluated in ``OUT/.partial/`` and moved into place with one rename only once
lm-eval has written everything, so a finished cell folder is a complete cell and an interrupted one
leaves nothing behind; re-running the same command skips the finished cells.

The model is loaded once and shared by the cells: the knobs of a cell reach it as lm-eval
``gen_kwargs`` (which take precedence over ``--model_args`` per request), so a big checkpoint is not
reloaded for every point of the grid. The results still record ``model: mdlm`` as the CLI does.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import itertools
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from lm_eval_mdlm.report import ReportError
from lm_eval_mdlm.report.settings import setting_of

MANIFEST = "sweep_cell.json"
# Model arguments that change speed or placement but never a result: a resumed sweep may change them.
_RUNTIME_ARGS = ("batch_size", "max_batch_size", "device", "threads", "trace_path")


class SweepError(ReportError):
    """A grid, task or output folder the sweep cannot use; the message says how to fix it."""


@dataclass(frozen=True)
class Cell:
    """One evaluation of the sweep: tasks run together with one set of decoding knobs."""

    tasks: tuple[str, ...]
    knobs: tuple[tuple[str, Any], ...]
    setting_slug: str
    label: str

    @property
    def gen_kwargs(self) -> dict[str, Any]:
        return dict(self.knobs)

    @property
    def tasks_slug(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", "+".join(self.tasks))
        if len(slug) > 120:  # keep folder names short and still unique
            slug = slug[:100] + "-" + hashlib.sha1(slug.encode()).hexdigest()[:10]
        return slug


@dataclass
class SweepOptions:
    """Everything of a sweep besides the grid; ``identity()`` are the options a finished cell must match."""

    model_args: str
    output_path: str
    limit: float | None = None
    num_fewshot: int | None = None
    batch_size: str | None = None
    max_batch_size: int | None = None
    device: str | None = None
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool = False
    include_path: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        from lm_eval.utils import simple_parse_args_string

        args = {k: v for k, v in simple_parse_args_string(self.model_args).items() if k not in _RUNTIME_ARGS}
        return {"model_args": args, "limit": self.limit, "num_fewshot": self.num_fewshot,
                "apply_chat_template": self.apply_chat_template, "fewshot_as_multiturn": self.fewshot_as_multiturn,
                "metadata": self.metadata}


@dataclass
class SweepResult:
    """Which cells this call evaluated and which it found finished already."""

    ran: list[Cell]
    skipped: list[Cell]
    folders: dict[Cell, Path]


def parse_grid(specs: Sequence[str]) -> list[dict[str, Any]]:
    """``["strategy=topk k=1,2,4", "strategy=threshold threshold=0.5,0.9"]`` -> the union of the products."""
    from lm_eval_mdlm.config import ConfigError, coerce

    points: list[dict[str, Any]] = []
    for spec in specs or [""]:
        axes: list[tuple[str, list[Any]]] = []
        for item in spec.split():
            key, sep, values = item.partition("=")
            if not sep or not values:
                raise SweepError(f"--grid {spec!r}: {item!r} is not KEY=V1,V2,...; write e.g. "
                                 "--grid 'strategy=topk k=1,2,4'.")
            if key in [k for k, _ in axes]:
                raise SweepError(f"--grid {spec!r} gives {key} twice; list its values once, comma-separated "
                                 f"(e.g. {key}=1,2), or give a second --grid for a separate product.")
            try:
                axes.append((key, [coerce({key: v})[key] for v in values.split(",")]))
            except ConfigError as exc:
                raise SweepError(f"--grid {spec!r}: {exc}") from None
        for combo in itertools.product(*[values for _, values in axes]):
            point = dict(zip([key for key, _ in axes], combo))
            if point not in points:
                points.append(point)
    return points


def plan(model_args: str, tasks: Sequence[str], grid: Sequence[str]) -> list[Cell]:
    """All cells, each checked against the engine's validation before anything runs."""
    from lm_eval.utils import simple_parse_args_string

    from lm_eval_mdlm.config import FIELD_NAMES, ConfigError, DecodeConfig, coerce

    if not tasks:
        raise SweepError("no tasks: give --tasks TASK [TASK ...] (an entry may be a group or 'a,b' run together).")
    base_args = {k: v for k, v in simple_parse_args_string(model_args or "").items() if k in FIELD_NAMES}
    try:
        base = DecodeConfig(**coerce(base_args))
    except ConfigError as exc:
        raise SweepError(f"--model_args: {exc}") from None
    cells: dict[tuple, Cell] = {}
    for point in parse_grid(grid):
        label = " ".join(f"{k}={v}" for k, v in point.items()) or "(model_args defaults)"
        try:
            effective = base.replace(**point)
        except ConfigError as exc:
            raise SweepError(f"grid cell {label}: {exc} Change that --grid line.") from None
        slug = setting_of(asdict(effective)).slug
        if "max_gen_toks" in point:
            slug += f"_max_gen_toks-{point['max_gen_toks']}"
        for entry in tasks:
            names = tuple(t for t in entry.split(",") if t)
            cell = Cell(names, tuple(point.items()), slug, label)
            cells.setdefault((cell.tasks_slug, slug), cell)  # equal effective settings run once
    return list(cells.values())


def _model_dir(model_args: str) -> str:
    from lm_eval.loggers.evaluation_tracker import GeneralConfigTracker
    from lm_eval.utils import sanitize_model_name

    return sanitize_model_name(str(GeneralConfigTracker._get_model_name(model_args)))


def _check_tasks(manager: Any, cells: Sequence[Cell]) -> None:
    known = set(manager.all_tasks)
    for name in sorted({t for c in cells for t in c.tasks}):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            raise SweepError(f"task {name!r} is unknown to lm-eval" + (f"; did you mean {', '.join(close)}?" if close
                             else "; check the name, or add its folder with --include_path."))


def _finished(folder: Path, options: SweepOptions) -> bool:
    """Whether ``folder`` holds this cell, finished; an error if it holds something else."""
    if not folder.exists():
        return False
    manifest = folder / MANIFEST
    if not manifest.exists():
        raise SweepError(f"{folder} exists but was not written by `lm-eval-mdlm sweep` (no {MANIFEST}); move it "
                         "away or choose another --output_path.")
    recorded = json.loads(manifest.read_text(encoding="utf-8")).get("identity")
    if recorded != json.loads(json.dumps(options.identity())):
        raise SweepError(f"{folder} was run with other options ({json.dumps(recorded)}) than this sweep "
                         f"({json.dumps(options.identity())}); use another --output_path, or delete it to re-run.")
    return True


def _clean_partial(root: Path) -> None:
    """Remove staging folders left by sweeps that were killed (their process no longer exists)."""
    partial = root / ".partial"
    for entry in partial.glob("*") if partial.exists() else []:
        pid = entry.name.rsplit("-", 1)[-1]
        alive = pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid))
        if not alive:
            shutil.rmtree(entry, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _evaluate_cell(lm: Any, cell: Cell, staging: Path, options: SweepOptions, manager: Any) -> None:
    """Run one cell with lm-eval's Python API and save it in lm-eval's own format under ``staging``."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    lm.traces.clear()  # the model is shared: this cell's traces only (results and mdlm_traces file)
    tracker = EvaluationTracker(output_path=str(staging))
    results = lm_eval.simple_evaluate(
        model=lm, model_args=options.model_args, tasks=list(cell.tasks), limit=options.limit,
        num_fewshot=options.num_fewshot, batch_size=options.batch_size, device=options.device, log_samples=True,
        evaluation_tracker=tracker, apply_chat_template=options.apply_chat_template,
        fewshot_as_multiturn=options.fewshot_as_multiturn, gen_kwargs=cell.gen_kwargs or None,
        task_manager=manager)
    if results is None:
        raise SweepError(f"lm-eval returned no results for cell {cell.label} on {', '.join(cell.tasks)}.")
    samples = results.pop("samples")
    results["config"]["model"] = "mdlm"  # we passed the loaded model; record it as `lm_eval --model mdlm` does
    tracker.general_config_tracker.model_source = "mdlm"
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])


def _run_cell(lm: Any, cell: Cell, staging: Path, model_dir: str, folder: Path, options: SweepOptions,
              manager: Any) -> None:
    """Evaluate one cell in ``staging``, then move its output to ``folder`` with its manifest: the cell appears
    complete, or not at all."""
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _evaluate_cell(lm, cell, staging, options, manager)
        written = staging / model_dir
        if not list(written.glob("results_*.json")):
            raise SweepError(f"lm-eval wrote no results file for cell {cell.label} on "
                             f"{'+'.join(cell.tasks)} (see its warnings above); nothing was kept.")
        manifest = {"tasks": list(cell.tasks), "gen_kwargs": cell.gen_kwargs, "identity": options.identity()}
        (written / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.rename(written, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_sweep(grid: Sequence[str], tasks: Sequence[str], options: SweepOptions, dry_run: bool = False,
              log: Callable[[str], None] = print) -> SweepResult:
    """Evaluate every unfinished cell; see the module docstring."""
    from tqdm import tqdm

    if "pretrained=" not in options.model_args:  # name the default model explicitly (folder names need it)
        from lm_eval_mdlm.default_model import default_checkpoint

        given_args = ",".join(a for a in (f"pretrained={default_checkpoint()}", options.model_args) if a)
        options = replace(options, model_args=given_args)
    cells = plan(options.model_args, tasks, grid)
    root = Path(options.output_path)
    model_dir = _model_dir(options.model_args)
    folders = {c: root / c.tasks_slug / c.setting_slug / model_dir for c in cells}
    done = [c for c in cells if _finished(folders[c], options)]
    todo = [c for c in cells if c not in done]
    log(f"sweep: {len(cells)} cells, {len(done)} finished, {len(todo)} to run -> {root}")
    if dry_run:
        for c in cells:
            log(f"  {'done' if c in done else 'todo'}  {'+'.join(c.tasks)}  {c.label}  {folders[c]}")
        return SweepResult([], done, folders)
    if not todo:
        return SweepResult([], done, folders)
    from lm_eval.api.registry import get_model
    from lm_eval.tasks import TaskManager
    from lm_eval.utils import simple_parse_args_string

    manager = TaskManager(include_path=options.include_path,
                          metadata=simple_parse_args_string(options.model_args) | options.metadata)
    _check_tasks(manager, todo)
    _clean_partial(root)
    given = simple_parse_args_string(options.model_args)
    extra = {k: v for k, v in (("batch_size", options.batch_size), ("max_batch_size", options.max_batch_size),
                               ("device", options.device)) if v is not None and k not in given}
    lm = get_model("mdlm").create_from_arg_string(options.model_args, extra)
    ran: list[Cell] = []
    bar = tqdm(total=len(cells), initial=len(done), desc="sweep", unit="cell")
    try:
        for cell in todo:
            bar.set_postfix_str(f"{'+'.join(cell.tasks)} {cell.label}")
            _run_cell(lm, cell, root / ".partial" / f"{cell.tasks_slug}__{cell.setting_slug}-{os.getpid()}",
                      model_dir, folders[cell], options, manager)
            ran.append(cell)
            bar.update(1)
    finally:
        bar.close()
        partial = root / ".partial"
        if partial.exists() and not any(partial.iterdir()):
            partial.rmdir()
    return SweepResult(ran, done, folders)


def main(argv: Sequence[str] | None = None) -> int:
    """``lm-eval-mdlm sweep``: parse arguments and run the sweep."""
    parser = argparse.ArgumentParser(
        prog="lm-eval-mdlm sweep",
        description="Run a grid of decoding settings over tasks with --model mdlm; one lm-eval output folder per "
                    "cell; re-running skips finished cells. Then: lm-eval-mdlm report OUTPUT_PATH.")
    parser.add_argument("--model_args", default="", help="as lm_eval's, e.g. pretrained=GSAI-ML/LLaDA-8B-Instruct")
    parser.add_argument("--tasks", nargs="+", required=True,
                        help="one cell axis entry each: a task, a group, or a,b (run together in one cell)")
    parser.add_argument("--grid", action="append", default=[],
                        help="KEY=V1,V2 ... (product); repeat for a union, e.g. --grid 'strategy=topk k=1,2,4' "
                             "--grid 'strategy=threshold threshold=0.5,0.7,0.9'. Keys: the decoding options")
    parser.add_argument("--output_path", required=True, help="the sweep's folder")
    parser.add_argument("--limit", type=float, help="as lm_eval's --limit")
    parser.add_argument("--num_fewshot", type=int)
    parser.add_argument("--batch_size", help="as lm_eval's (an integer or auto)")
    parser.add_argument("--max_batch_size", type=int)
    parser.add_argument("--device")
    parser.add_argument("--apply_chat_template", action="store_true")
    parser.add_argument("--fewshot_as_multiturn", action="store_true")
    parser.add_argument("--include_path", help="an extra folder of task YAMLs")
    parser.add_argument("--metadata", default="{}", help="JSON, as lm_eval's --metadata")
    parser.add_argument("--dry_run", action="store_true", help="list the cells and whether they are finished")
    args = parser.parse_args(argv)
    try:
        metadata = json.loads(args.metadata)
        if not isinstance(metadata, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        print(f"lm-eval-mdlm sweep: error: --metadata {args.metadata!r} is not a JSON object ({exc}).", file=sys.stderr)
        return 2
    limit = int(args.limit) if args.limit is not None and args.limit >= 1 else args.limit
    options = SweepOptions(model_args=args.model_args, output_path=args.output_path, limit=limit,
                           num_fewshot=args.num_fewshot, batch_size=args.batch_size,
                           max_batch_size=args.max_batch_size, device=args.device,
                           apply_chat_template=args.apply_chat_template,
                           # as lm_eval's CLI: the chat template turns on multi-turn few-shot
                           fewshot_as_multiturn=args.fewshot_as_multiturn or args.apply_chat_template,
                           include_path=args.include_path,
                           metadata=metadata)
    try:
        result = run_sweep(args.grid, args.tasks, options, dry_run=args.dry_run)
    except ReportError as exc:
        print(f"lm-eval-mdlm sweep: error: {exc}", file=sys.stderr)
        return 2
    print(f"sweep: ran {len(result.ran)} cell(s), {len(result.skipped)} already finished; "
          f"next: lm-eval-mdlm report {args.output_path}")
    return 0
