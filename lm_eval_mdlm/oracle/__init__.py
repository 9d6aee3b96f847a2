"""Models that know their data distribution exactly, for validating decoding strategies on a CPU.

* :mod:`lm_eval_mdlm.oracle.list_ops`: the list operations of ParallelBench §4 as a denoiser
  (``--model mdlm --model_args pretrained=oracle:shuffle``), see :func:`load_oracle`;
* :mod:`lm_eval_mdlm.oracle.theory`: total correlation C(Y|X) and the T-step bound L_T (ParallelBench
  Eq. 2-4) computed from an oracle's joint distribution;

The experiments run on them (the engine against ParallelBench's closed forms, a Block-HMM with a parity
constraint) are research and live outside the package: research/oracle_experiments.py, research/block_hmm.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import torch

from lm_eval_mdlm.oracle.list_ops import LAYOUTS, OPS, ListOpOracle, OracleError

PREFIX = "oracle:"
_OPTIONS = {"items": int, "layout": str, "noise": float, "index_base": int, "n": int, "max_length": int}


def is_oracle_spec(pretrained: str) -> bool:
    """Whether a ``pretrained=`` value names an oracle rather than a checkpoint."""
    return str(pretrained).startswith(PREFIX)


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``oracle:<op>?key=value&key=value`` -> (op, options), values converted to their types."""
    if not is_oracle_spec(spec):
        raise OracleError(f"{spec!r} is not an oracle spec; write oracle:<op>[?key=value&...] with op in "
                          f"{', '.join(OPS)}, e.g. oracle:shuffle?items=26&noise=0.")
    body = spec[len(PREFIX):]
    op, _, query = body.partition("?")
    try:
        options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise OracleError(f"oracle spec {spec!r}: the options after '?' must read key=value&key=value "
                          "(e.g. oracle:shuffle?items=26&noise=0).") from None
    return op, coerce_options(options)


def coerce_options(options: dict[str, Any]) -> dict[str, Any]:
    """Convert option strings to their types; unknown keys and bad values are clear errors."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key not in _OPTIONS:
            raise OracleError(f"unknown oracle option {key}={value!r}; valid options: {', '.join(_OPTIONS)} "
                              f"(layout one of {', '.join(LAYOUTS)}).")
        kind = _OPTIONS[key]
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            if key == "n":
                out[key] = None
                continue
            raise OracleError(f"oracle option {key} cannot be empty.")
        try:
            out[key] = kind(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            wanted = {int: "an integer", float: "a number"}.get(kind, "a string")
            raise OracleError(f"oracle option {key}={value!r} is invalid: it must be {wanted}.") from None
    return out


def load_oracle(spec: str, *, device: str | torch.device = "cpu", **options: Any) -> ListOpOracle:
    """The list-operation oracle named by ``spec`` (``oracle:<op>?key=value&...``).

    Options (in the spec's query or as keywords, keywords winning): ``items`` (item vocabulary
    size, default 26 = A..Z), ``layout`` (``list``: ``[ A , B ]`` + EOS, default; ``bare``: items +
    EOS), ``noise`` (tie-breaking noise scale, default 1e-6; 0 = off), ``index_base`` (0 default, as
    the tasks' ``position {index}``), ``n`` (require lists of n items), ``max_length``.
    """
    op, parsed = parse_spec(spec)
    parsed.update(coerce_options({k: v for k, v in options.items() if v is not None}))
    return ListOpOracle(op, device=device, **parsed)


__all__ = ["OPS", "ListOpOracle", "OracleError", "is_oracle_spec", "load_oracle", "parse_spec"]
