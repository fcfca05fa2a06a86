"""The bulletin's charts, drawn off-screen with matplotlib into PNG (base64, for the page).

Every text on a chart is passed in by the caller in the reader's language; the charts only
format numbers the Spanish way and never put two units on one axis (a chart has one y unit).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from observatorio.delivery.bulletin.geometry import Ring
from observatorio.delivery.bulletin.labels import month_tick
from observatorio.delivery.bulletin.labels import number as fmt
from observatorio.delivery.bulletin.series import Line, Point

BLUE, GREY, DARK = "#2f5f98", "#b9c0ca", "#1d2330"
UNSTABLE, HATCH = "#f4f6f9", "#7d8896"
PALETTE = ("#2f5f98", "#c0504d", "#1d2330", "#7a9a3a", "#8064a2", "#d08a2c")
DPI = 150


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.family": "DejaVu Sans", "font.size": 7.5, "axes.titlesize": 8})
    return plt


def _figure(width: float = 4.6, height: float = 2.7) -> tuple[Any, Any]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(width, height), dpi=DPI)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _axis_numbers(axis: Any, decimals: int = 0) -> None:
    """Spanish tick labels; whole numbers only on an axis of counts."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if decimals == 0:
        axis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v, decimals)))


def _png(fig: Any) -> str:
    plt = _plt()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _ys(line: Line, months: Sequence[str], scale: float) -> list[float]:
    nan = float("nan")
    out = []
    for m in months:
        p = line.at(m)
        out.append(nan if p is None or p.value is None else p.value * scale)
    return out


def line_chart(
    lines: Sequence[tuple[str, Line]],
    months: Sequence[str],
    ylabel: str,
    scale: float = 1.0,
    decimals: int = 0,
) -> str:
    """One line per (label, series) over `months`, with its 95 % interval as a band."""
    fig, ax = _figure()
    xs = list(range(len(months)))
    for index, (label, line) in enumerate(lines):
        colour = PALETTE[index % len(PALETTE)]
        ax.plot(xs, _ys(line, months, scale), marker="o", markersize=2.5, color=colour, label=label)
        lows = [line.at(m) for m in months]
        if any(p is not None and p.lower is not None for p in lows):
            nan = float("nan")
            low = [nan if p is None or p.lower is None else p.lower * scale for p in lows]
            high = [nan if p is None or p.upper is None else p.upper * scale for p in lows]
            ax.fill_between(xs, low, high, color=colour, alpha=0.13, linewidth=0)
    ax.set_xticks(xs, [month_tick(m) for m in months], rotation=45, ha="right", fontsize=6.5)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    _axis_numbers(ax.yaxis, decimals)
    ax.grid(axis="y", alpha=0.3)
    columns = 1 if max(len(label) for label, _ in lines) > 28 else 2
    ax.legend(
        fontsize=6.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=columns
    )
    return _png(fig)


def month_bars(line: Line, months: Sequence[str], ylabel: str, marker: str) -> str:
    """A count per month as bars; a suppressed month shows the marker instead of a bar."""
    fig, ax = _figure()
    xs = list(range(len(months)))
    points = [line.at(m) for m in months]
    heights = [p.value if p is not None and p.value is not None else 0.0 for p in points]
    ax.bar(xs, heights, color=BLUE)
    for x, p, h in zip(xs, points, heights, strict=True):
        if p is not None:  # a month without data has no bar and no label
            text = marker if p.suppressed else fmt(h)
            ax.text(x, h, text, ha="center", va="bottom", fontsize=6)
    ax.set_ylim(0, max([1.0, *heights]) * 1.15)
    ax.set_xticks(xs, [month_tick(m) for m in months], rotation=45, ha="right", fontsize=6.5)
    ax.set_ylabel(ylabel)
    _axis_numbers(ax.yaxis)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def bars(
    labels: Sequence[str],
    points: Sequence[Point],
    xlabel: str,
    value_labels: Sequence[str],
    scale: float = 1.0,
    height: float | None = None,
) -> str:
    """Horizontal bars, first label on top, each with its value written at its end and its
    95 % interval as an error bar where it has one."""
    fig, ax = _figure(height=height or max(1.6, 0.26 * len(labels) + 0.8))
    ys = list(range(len(labels)))[::-1]
    values = [(p.value or 0.0) * scale for p in points]
    ax.barh(ys, values, color=BLUE, height=0.65)
    for y, p, v, text in zip(ys, points, values, value_labels, strict=True):
        end = v
        if p.lower is not None and p.upper is not None and p.value is not None:
            ax.errorbar(
                v,
                y,
                xerr=[[v - p.lower * scale], [p.upper * scale - v]],
                color=DARK,
                capsize=2,
                linewidth=0.8,
            )
            end = p.upper * scale
        ax.text(end, y, f"  {text}", va="center", fontsize=6.5)
    ax.set_yticks(ys, list(labels), fontsize=6.5)
    ax.set_xlabel(xlabel)
    _axis_numbers(ax.xaxis)
    ax.set_xlim(0, max([1e-9, *values, *[(p.upper or 0) * scale for p in points]]) * 1.35)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def choropleth(
    shapes: dict[str, list[Ring]],
    values: dict[str, Point],
    legend: str,
    marker: str,
    labelled: dict[str, str],
    outlines: Sequence[Ring] = (),
) -> str:
    """Municipalities coloured by value (stable ones), hatched when unstable, grey when the
    value is suppressed or missing; `labelled` municipalities are named on the map and the
    `outlines` (departments' borders) drawn over them."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch, Polygon

    fig, ax = _figure(width=7.2, height=4.6)
    shown = [p.value for p in values.values() if p.value is not None and not p.unstable]
    norm = Normalize(vmin=0, vmax=max(shown) if shown else 1.0)
    cmap = colormaps["YlOrRd"]
    for code, rings in sorted(shapes.items()):
        p = values.get(code)
        unstable = p is not None and p.value is not None and p.unstable
        colour: Any
        if p is None or p.value is None:
            colour = GREY
        else:
            colour = UNSTABLE if unstable else cmap(norm(p.value))
        for ring in rings:
            ax.add_patch(
                Polygon(ring, closed=True, facecolor=colour, edgecolor="white", linewidth=0.6)
            )
            if unstable:
                ax.add_patch(
                    Polygon(
                        ring,
                        closed=True,
                        facecolor="none",
                        edgecolor=HATCH,
                        linewidth=0,
                        hatch="////",
                    )
                )
    for code, text in labelled.items():
        if code in shapes:
            xs = [x for ring in shapes[code] for x, _ in ring[:-1]]
            ys = [y for ring in shapes[code] for _, y in ring[:-1]]
            ax.annotate(
                text,
                (sum(xs) / len(xs), sum(ys) / len(ys)),
                ha="center",
                va="center",
                fontsize=5.5,
                color=DARK,
            )
    if outlines:
        ax.add_collection(LineCollection(list(outlines), colors=DARK, linewidths=0.9))
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.axis("off")
    mappable = ScalarMappable(norm=norm, cmap=cmap)
    bar = fig.colorbar(mappable, ax=ax, shrink=0.7, pad=0.01)
    bar.set_label(legend, fontsize=6.5)
    _axis_numbers(bar.ax.yaxis, 0 if (norm.vmax or 0) >= 10 else 1)
    ax.legend(
        handles=[
            Patch(facecolor=UNSTABLE, edgecolor=HATCH, hatch="////", label="tasa inestable"),
            Patch(facecolor=GREY, label=f"suprimido ({marker}) o sin dato"),
        ],
        fontsize=6,
        frameon=False,
        loc="lower left",
    )
    return _png(fig)
