"""The bulletin's charts (matplotlib, drawn off-screen to PNG) and the number formats they use."""

from __future__ import annotations

import base64
import io
from typing import Any

from observatorio.delivery.bulletin.indicators import Series


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=110)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    return fig, ax


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def fmt_value(value: float | None, marker: str) -> str:
    if value is None:
        return marker
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def line_chart(series: list[Series], marker: str, emphasise: str | None = None) -> str:
    fig, ax = _figure()
    for s in series:
        months = sorted(s.points)
        ys = [s.points[m] if s.points[m] is not None else float("nan") for m in months]
        strong = emphasise is not None and emphasise in s.label
        ax.plot(
            months,
            ys,
            marker="o",
            linewidth=3 if strong else 1.5,
            color="black" if strong else None,
            label=s.label + (f"  ({marker} = suprimido)" if s.suppressed else ""),
        )
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.legend(fontsize=7, frameon=False)
    return _png(fig)


def bar_chart(labels: list[str], values: list[float | None], marker: str) -> str:
    fig, ax = _figure()
    shown = [v if v is not None else 0.0 for v in values]
    ax.barh(labels[::-1], shown[::-1], color="#3b6ea5")
    for y, v in enumerate(values[::-1]):
        ax.text(shown[::-1][y], y, f" {fmt_value(v, marker)}", va="center", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    return _png(fig)


def latest_value(series: Series) -> float | None:
    months = [m for m in sorted(series.points) if series.points[m] is not None]
    return series.points[months[-1]] if months else None


def summary_table(series: list[Series], marker: str, period: str) -> list[tuple[str, str]]:
    rows = []
    for s in series:
        value = None if period in s.suppressed else s.points.get(period, latest_value(s))
        rows.append((s.label, fmt_value(value, marker)))
    return rows
