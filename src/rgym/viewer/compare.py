"""Two runs side by side: their facts in one table, their scores on one chart (the artefact
diff is :func:`rgym.viewer.artifacts.diff_artifacts`)."""

from __future__ import annotations

from typing import Any

from rgym.viewer.leaderboard import clean, plot_text
from rgym.viewer.runview import RunView
from rgym.viewer.transcript import fmt_money, fmt_num, fmt_seconds

COLORS = ("#1f77b4", "#d62728")


def side_by_side(a: RunView, b: RunView) -> list[tuple[str, str, str, bool]]:
    """(label, A's value, B's value, whether they differ) for the facts a reader compares."""

    def facts(v: RunView) -> dict[str, str]:
        s, t = v.summary, v.transcript
        return {
            "task": s.task or "—",
            "variant": s.variant or "—",
            "agent": s.agent or "—",
            "model": s.model or "—",
            "seed": "—" if s.seed is None else str(s.seed),
            "status": s.status,
            "exit status": s.exit_status or "—",
            "best dev score": fmt_num(s.dev_best, 6),
            "test score": fmt_num(s.test_score, 6),
            "normalised score": fmt_num(s.normalised, 4),
            "steps": fmt_num(s.steps),
            "model calls": fmt_num(t.model_calls),
            "tokens": fmt_num(s.tokens),
            "cost": fmt_money(s.cost_usd),
            "wall time": fmt_seconds(s.wall_seconds),
            "errors and warnings": str(len(t.problems)),
        }

    fa, fb = facts(a), facts(b)
    return [(k, fa[k], fb[k], fa[k] != fb[k]) for k in fa]


def compare_figure(a: RunView, b: RunView) -> dict[str, Any] | None:
    """Both runs' validate scores over steps, and their test scores, on one chart."""
    data = []
    for label, v, color in (("A", a, COLORS[0]), ("B", b, COLORS[1])):
        s = v.transcript.series
        name = plot_text(f"{label}: {v.ref.id}")
        if s.dev:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": f"{name} dev",
                    "line": {"color": color},
                    "x": [p[0] for p in s.dev],
                    "y": [p[1] for p in s.dev],
                }
            )
        if s.test:
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": f"{name} test",
                    "marker": {"color": color, "size": 12, "symbol": "star"},
                    "x": [p[0] for p in s.test],
                    "y": [p[1] for p in s.test],
                }
            )
    if not data:
        return None
    layout = {
        "title": {"text": "Scores over steps"},
        "xaxis": {"title": {"text": "step"}},
        "yaxis": {"title": {"text": plot_text(a.summary.metric or "score")}},
        "legend": {"orientation": "h", "y": -0.3},
        "margin": {"t": 40, "r": 10},
        "height": 320,
    }
    return clean({"data": data, "layout": layout})
