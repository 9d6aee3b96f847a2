"""``python -m research.default_model [--out DIR] [--steps N] ...``: retrain the default model from scratch.

Every int or float field of the phase-1 recipe is an option; the later phases are
:data:`research.default_model.recipe.LATER_PHASES`. Run from a source checkout (docs/default_model.md).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from research.default_model.recipe import RECIPE, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m research.default_model",
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


if __name__ == "__main__":
    sys.exit(main())
