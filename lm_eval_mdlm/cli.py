"""``lm-eval-mdlm``: the project's own commands (evaluation itself goes through the stock ``lm_eval``).

* ``lm-eval-mdlm sweep --tasks T ... --grid 'strategy=topk k=1,2,4' --output_path DIR``: a grid of decoding
  settings over tasks, one lm-eval output folder per cell, resumable (:mod:`lm_eval_mdlm.report.sweep`).
* ``lm-eval-mdlm report DIR``: tables and plots of lm-eval ``--model mdlm`` output folders
  (:mod:`lm_eval_mdlm.report.write`; ``docs/report.md``).

Retraining the shipped default model is research code, not installed: ``python -m research.default_model``
from a source checkout (docs/default_model.md).
"""

from __future__ import annotations

import argparse
import sys


def _sweep(argv: list[str]) -> int:
    from lm_eval_mdlm.report.sweep import main as sweep_main

    return sweep_main(argv)


def _report(argv: list[str]) -> int:
    from lm_eval_mdlm.report.write import main as report_main

    return report_main(argv)


COMMANDS = {
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
