"""Figures of the AFP/tau paper's analyses (domain, reasoning stage, Sudoku order, calibration, knee).

Same conventions as :mod:`.plots`: Agg canvas only, and every PNG carries a description of what was drawn.
Values that are undefined (None) are left out of a line, never drawn as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lm_eval_mdlm.report.plots import _colors, _figure


def _finite(xs: Sequence[Any], ys: Sequence[Any]) -> tuple[list[float], list[float]]:
    kept = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
    return [float(x) for x, _ in kept], [float(y) for _, y in kept]


def domain_bars(rows: Sequence[dict[str, Any]]) -> Any:
    """Score, AFP and tau per domain (one group of bars per domain, one bar per model/setting)."""
    fig = _figure(12.0, 3.8)
    series = sorted({f"{r['model']}: {r['setting']}" for r in rows})
    domains = sorted({r["domain"] for r in rows})
    colors = _colors(series)
    width = 0.8 / max(1, len(series))
    for i, (key, label) in enumerate((("score", "score (%)"), ("afp", "AFP"), ("kendall_tau", "Kendall's tau"))):
        ax = fig.add_subplot(1, 3, i + 1)
        for j, name in enumerate(series):
            values = {r["domain"]: r[key] for r in rows if f"{r['model']}: {r['setting']}" == name}
            xs = [d + j * width for d, domain in enumerate(domains) if values.get(domain) is not None]
            ys = [values[domain] * (100 if key == "score" else 1) for domain in domains
                  if values.get(domain) is not None]
            ax.bar(xs, ys, width=width, color=colors[name], label=name)
        ax.set_xticks([d + 0.4 - width / 2 for d in range(len(domains))], domains, rotation=30, fontsize=8)
        ax.set_ylabel(label)
        if key == "score":
            ax.set_ylim(0, 100)
        ax.set_title(f"{label} by domain", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    handles, names = fig.axes[0].get_legend_handles_labels()
    fig.axes[0].legend(handles, names, fontsize=7, loc="upper left")  # read back by describe()
    fig.axes[0].get_legend().set_visible(False)
    fig.legend(handles, names, fontsize=7, loc="lower center")
    fig.tight_layout(rect=(0, 0.06 * len(series) + 0.04, 1, 1))
    return fig


def stage_lines(rows: Sequence[dict[str, Any]], quantiles: int, prefix: str, name: str) -> Any:
    """``name`` (AFP or tau, columns ``<prefix>_q<i>``) over answer-position quantiles: one panel per task or
    domain (up to 9), one line per model and setting."""
    scopes = sorted({r["scope"] for r in rows})[:9]
    cols = min(3, max(1, len(scopes)))
    fig = _figure(4.6 * cols, 3.6 * (-(-len(scopes) // cols)))
    for i, scope in enumerate(scopes):
        ax = fig.add_subplot(-(-len(scopes) // cols), cols, i + 1)
        members = [r for r in rows if r["scope"] == scope][:10]
        labels = [f"{r['setting']}" if len({m['model'] for m in rows}) == 1 else f"{r['model']}: {r['setting']}"
                  for r in members]
        colors = _colors(labels)
        for row, label in zip(members, labels):
            xs, ys = _finite(range(1, quantiles + 1), [row[f"{prefix}_q{q + 1}"] for q in range(quantiles)])
            if xs:
                ax.plot(xs, ys, marker="o", label=label, color=colors[label])
        ax.set_xticks(range(1, quantiles + 1))
        ax.set_xlabel(f"answer-position quantile (1 = start, {quantiles} = end)")
        ax.set_ylabel(name)
        ax.set_title(scope, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="best")
    fig.suptitle(f"{name} by reasoning stage")
    fig.tight_layout()
    return fig


def sudoku_scatter(panels: Sequence[tuple[str, Sequence[tuple[int, int]]]]) -> Any:
    """Candidates of each blank (x) against the step it was filled (y); one panel per task and setting."""
    cols = min(3, max(1, len(panels)))
    rows = -(-len(panels) // cols)
    fig = _figure(4.4 * cols, 3.6 * rows)
    for i, (title, points) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.scatter([p[0] for p in points], [p[1] for p in points], alpha=0.4, s=20)
        ax.set_xlabel("candidates of the blank in the given puzzle")
        ax.set_ylabel("step the blank was filled")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle("Sudoku: blank difficulty vs fill order")
    fig.tight_layout()
    return fig


def reliability(title: str, panels: Sequence[tuple[str, Sequence[tuple[str, Sequence[dict[str, float]]]]]]) -> Any:
    """Reliability diagrams, one panel per model: fraction correct against mean confidence per equal-mass bin,
    one line per setting; the diagonal is perfect calibration."""
    cols = min(3, max(1, len(panels)))
    rows = -(-len(panels) // cols)
    fig = _figure(5.2 * cols, 4.6 * rows)
    for i, (model, curves) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
        colors = _colors([label for label, _ in curves])
        for label, bins in curves:
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", label=label,
                    color=colors[label])
        ax.set_xlabel("mean commit confidence (equal-mass bin)")
        ax.set_ylabel("fraction correct")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(model[-60:], fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def knee_plot(title: str, lines: Sequence[tuple[str, Sequence[tuple[float, float, str, bool]]]]) -> Any:
    """Score (%) against AFP along each swept knob, points labelled with the knob value, the knee circled."""
    fig = _figure(6.4, 4.6)
    ax = fig.add_subplot(1, 1, 1)
    colors = _colors([label for label, _ in lines])
    for label, points in lines:
        ordered = sorted(points)
        ax.plot([p[0] for p in ordered], [100 * p[1] for p in ordered], marker="o", label=label, color=colors[label])
        for x, y, value, knee in ordered:
            ax.annotate(value, (x, 100 * y), fontsize=7, xytext=(3, 3), textcoords="offset points")
            if knee:
                ax.scatter([x], [100 * y], s=260, facecolors="none", edgecolors="red", linewidths=2, zorder=5,
                           label=f"knee ({label})")
    ax.set_xlabel("AFP (mean over tasks)")
    ax.set_ylabel("score (%, mean over tasks)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig
