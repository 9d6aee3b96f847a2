"""``lm-eval-mdlm``: the project's own commands (evaluation itself goes through the stock ``lm_eval``).

* ``lm-eval-mdlm train-tiny [--out DIR] [--steps N] ...``: retrain the default model from scratch.
* ``lm-eval-mdlm sweep --tasks T ... --grid 'strategy=topk k=1,2,4' --output_path DIR``: a grid of decoding
  settings over tasks, one lm-eval output folder per cell, resumable (:mod:`lm_eval_mdlm.report.sweep`).
* ``lm-eval-mdlm report DIR``: tables and plots of lm-eval ``--model mdlm`` output folders
  (:mod:`lm_eval_mdlm.report.write`; ``docs/report.md``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields


def _train_tiny(argv: list[str]) -> int:
    from lm_eval_mdlm.default_model.recipe import RECIPE, run

    parser = argparse.ArgumentParser(prog="lm-eval-mdlm train-tiny",
                                     description="Train the default masked-diffusion model from scratch.")
    parser.add_argument("--out", default="out/default_model", help="folder for the checkpoint")
    for f in fields(RECIPE):
        if f.type in ("int", "float", "int | None", "float | None"):
            kind = float if "float" in f.type else int
            parser.add_argument(f"--{f.name}", type=kind, default=getattr(RECIPE, f.name))
    args = parser.parse_args(argv)
    changes = {f.name: getattr(args, f.name) for f in fields(RECIPE) if hasattr(args, f.name)}
    summary = run(args.out, **changes)
    print(f"saved {args.out}: {summary['steps_run']} steps in {summary['seconds']} s, "
          f"final loss {summary['final_loss']:.4f}")
    return 0


def _sweep(argv: list[str]) -> int:
    from lm_eval_mdlm.report.sweep import main as sweep_main

    return sweep_main(argv)


def _report(argv: list[str]) -> int:
    from lm_eval_mdlm.report.write import main as report_main

    return report_main(argv)


COMMANDS = {
    "train-tiny": (_train_tiny, "retrain the shipped default model from scratch"),
    "sweep": (_sweep, "run a resumable grid of decoding settings over tasks"),
    "report": (_report, "tables and plots of --model mdlm output folders"),
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand; ``--help`` lists them (exit 0), a missing or unknown one exits 2 with why."""
    parser = argparse.ArgumentParser(
        prog="lm-eval-mdlm", description="lm-eval-mdlm's own commands; evaluation itself is `lm_eval --model mdlm`.",
        epilog="Run `lm-eval-mdlm <command> --help` for a command's options.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, (_, summary) in COMMANDS.items():
        # each command parses its own options (and its own --help), so the subparser takes none
        commands.add_parser(name, help=summary, add_help=False)
    args, rest = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    return COMMANDS[args.command][0](rest)


if __name__ == "__main__":
    sys.exit(main())
