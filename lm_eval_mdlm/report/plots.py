"""The report's figures, drawn on matplotlib's Agg canvas (no display, no global pyplot state).

Every PNG carries a ``lm-eval-mdlm`` text chunk describing what was drawn (titles, axis labels,
legend entries, number of lines and points), read back from the figure's own artists after drawing.
Why: tests and scripts can check a plot's content from the file itself, not only that it exists.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from typing import Any

from lm_eval_mdlm.report import ReportError

METADATA_KEY = "lm-eval-mdlm"
X_SPEED = "tokens per step"
Y_SCORE = "score (%)"


def require_matplotlib() -> None:
    """Fail early, before anything is written, if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ReportError("the report's plots need matplotlib, which is not installed: "
                          "pip install 'lm-eval-mdlm[report]' (or pip install matplotlib), "
                          "or pass --no_plots for the tables only.") from None


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def describe(fig: Any) -> dict[str, Any]:
    """What a figure shows, read from its artists (the PNG's metadata)."""
    axes = []
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        legend = ax.get_legend()
        axes.append({"title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
                     "legend": [t.get_text() for t in legend.get_texts()] if legend else [],
                     "lines": len(ax.get_lines()),
                     "series": [{"label": line.get_label(), "x": [float(v) for v in line.get_xdata()],
                                 "y": [float(v) for v in line.get_ydata()]} for line in ax.get_lines()],
                     "points": sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")),
                     "images": len(ax.get_images())})
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    return {"title": title, "axes": axes}


def png_bytes(fig: Any) -> bytes:
    """Render to PNG in memory (the caller writes files only once everything rendered)."""
    fig.canvas.draw()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={METADATA_KEY: json.dumps(describe(fig))})
    return buffer.getvalue()


def _colors(labels: Sequence[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {label: cmap(i % 10) for i, label in enumerate(labels)}


def score_vs_speed(title: str, lines: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                   stars: Sequence[tuple[str, float, float]] = ()) -> Any:
    """Score (%) against tokens per step: one line per strategy family, a star per oracle point.

    ``lines``: (family label, tokens per step, scores as fractions); ``stars``: (family label, tokens
    per step, score fraction) drawn in the family's colour.
    """
    fig = _figure(6.4, 4.6)
    ax = fig.add_subplot(1, 1, 1)
    colors = _colors([label for label, _, _ in lines])
    for label, xs, ys in lines:
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        ax.plot([xs[i] for i in order], [100 * ys[i] for i in order], marker="o", label=label,
                color=colors[label])
    for label, x, y in stars:
        ax.scatter([x], [100 * y], marker="*", s=260, color=colors.get(label, "black"), edgecolors="black",
                   zorder=5, label=f"oracle ({label})")
    ax.set_xlabel(X_SPEED)
    ax.set_ylabel(Y_SCORE)
    ax.set_title(title)
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def afp_tau_scatter(panels: Sequence[tuple[str, Sequence[tuple[float, float, bool]]]]) -> Any:
    """AFP (x) against Kendall's tau (y) per sample, coloured by correctness; one panel per task."""
    cols = min(3, max(1, len(panels)))
    rows = math.ceil(len(panels) / cols)
    fig = _figure(4.4 * cols, 3.6 * rows)
    for i, (task, points) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        for correct, color, marker, name in ((True, "tab:green", "o", "correct"),
                                             (False, "tab:red", "x", "incorrect")):
            xs = [p[0] for p in points if p[2] is correct]
            ys = [p[1] for p in points if p[2] is correct]
            # different markers: samples of both kinds often share the exact same (AFP, tau)
            ax.scatter(xs, ys, s=22 if correct else 18, alpha=0.5, color=color, marker=marker,
                       label=f"{name} (n={len(xs)})")
        ax.set_xlabel("AFP (tokens per distinct finalization step)")
        ax.set_ylabel("Kendall's tau (position vs step)")
        ax.set_title(task, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.suptitle("AFP vs Kendall's tau by correctness")
    fig.tight_layout()
    return fig


def decoding_heatmap(task: str, doc_id: int,
                     panels: Sequence[tuple[str, Sequence[int]]]) -> Any:
    """Decoding order of one sample: answer position (x) by finalization step (y), one panel per setting.

    ``panels``: (setting label, finalization step of each answer position). A cell is lit where a
    position was committed at that step, so a left-to-right decoder draws a diagonal and a
    parallel one draws horizontal runs.
    """
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    if not panels:
        raise ReportError(f"no decoding trace for {task} doc {doc_id}; choose another with --sample TASK:DOC_ID "
                          "(traces come from mdlm_traces_<date>.jsonl next to the results).")
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = _figure(4.2 * cols, 3.4 * rows)
    for i, (label, steps) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        last = max(steps, default=0)
        grid = np.zeros((max(last, 1), max(len(steps), 1)))
        for position, step in enumerate(steps):
            if step >= 1:
                grid[step - 1, position] = 1.0
        ax.imshow(grid, aspect="auto", origin="lower", cmap="Blues", interpolation="nearest",
                  extent=(-0.5, len(steps) - 0.5, 0.5, max(last, 1) + 0.5), vmin=0, vmax=1)
        ax.set_xlabel("answer position")
        ax.set_ylabel("finalization step")
        if last <= 12:
            ax.set_yticks(range(1, max(last, 1) + 1))
        else:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{label}\n{len(steps)} tokens, {len(set(steps))} distinct steps", fontsize=8)
    fig.suptitle(f"Decoding order: {task}, doc {doc_id}")
    fig.tight_layout()
    return fig
