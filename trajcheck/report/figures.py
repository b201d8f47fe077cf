"""Figures for the HTML report, drawn with matplotlib from the JSON of ``results.json``.

Figures are data in ``results.json`` (a claim's study, its sketch, its margins), not
images: the report draws them, so that ``trajcheck report DIR`` redraws them from the JSON
alone. Each is inline SVG, so the page stays one self-contained file.

Figure data: ``{"kind": "lines", "x_label", "y_label", "log_x", "log_y", "reference_y",
"y_range", "share_y", "x_ticks", "panels": [{"title", "series": [{"label", "x", "y",
"style", "low", "high"}]}]}``
(style ``line``, ``markers`` or ``markers-line``; ``low``/``high`` draw a band;
``x_ticks`` names the points x = 0, 1, ... of a categorical axis), or
``{"kind": "bars", "x_label", "y_label", "labels", "values", "highlight", "log_y"}``.
"""

from __future__ import annotations

import io
import math
from typing import Any

WIDTH, HEIGHT = 4.4, 3.0  # inches per panel (a panel of several shrinks to fit the page)


def _pyplot() -> Any:
    # matplotlib loads only when a report with a figure is written (it takes a second)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any) -> str:
    import matplotlib

    buffer = io.StringIO()
    # a fixed hash salt and no date keep the SVG the same from one rendering to the next
    with matplotlib.rc_context({"svg.hashsalt": "trajcheck", "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    _pyplot().close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog and doctype: inline in HTML


def _finite(values: list[Any]) -> list[float]:
    """JSON null (a missing point) as NaN, which matplotlib leaves out."""
    return [math.nan if v is None else float(v) for v in values]


def _plot_series(ax: Any, series: dict[str, Any], log_y: bool) -> None:
    x, y = _finite(series["x"]), _finite(series["y"])
    if log_y:  # a zero or negative value has no place on a log axis: leave it out
        y = [v if v > 0 else math.nan for v in y]
    style = series.get("style", "line")
    if style == "markers":
        line = ax.plot(x, y, linestyle="none", marker="o", markersize=4, label=series["label"])
    else:
        marker = "o" if style == "markers-line" else None
        line = ax.plot(x, y, marker=marker, markersize=3, label=series["label"])
    if "low" in series and "high" in series:  # a confidence band
        ax.fill_between(
            x, _finite(series["low"]), _finite(series["high"]), color=line[0].get_color(),
            alpha=0.2,
        )  # fmt: skip


def _spans_a_decade(panels: list[dict[str, Any]]) -> bool:
    """Whether the positive values span a factor of ten or more: a log axis over less
    repeats one label down the axis (a loss that stays flat at a tight bound)."""
    values = [
        v for panel in panels for series in panel["series"] for v in _finite(series["y"]) if v > 0
    ]
    return bool(values) and max(values) >= 10 * min(values)


def _integer_x(panel: dict[str, Any]) -> bool:
    values = [v for series in panel["series"] for v in _finite(series["x"])]
    return bool(values) and all(float(v).is_integer() for v in values)


def lines_svg(figure: dict[str, Any]) -> str:
    """One panel per entry of ``figure["panels"]``, one line per series."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    panels = figure["panels"]
    columns = min(len(panels), 2)
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(WIDTH * columns, HEIGHT * rows),
        sharey=bool(figure.get("share_y")),
        squeeze=False,
    )
    log_y = bool(figure.get("log_y")) and _spans_a_decade(panels)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for series in panel["series"]:
            _plot_series(ax, series, log_y)
        if figure.get("reference_y") is not None:
            ax.axhline(figure["reference_y"], color="0.4", linestyle="--", linewidth=1)
        if figure.get("x_ticks"):  # named categories at x = 0, 1, ...
            ticks = figure["x_ticks"]
            ax.set_xticks(range(len(ticks)), ticks, rotation=30, fontsize=8)
        elif figure.get("log_x"):
            ax.set_xscale("log", base=2)
        elif _integer_x(panel):  # steps or counts: no tick at 0.5
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if log_y:
            ax.set_yscale("log")
        else:  # plain numbers on the axis, not "1e-9 + 6.6e-2" offsets
            ax.ticklabel_format(axis="y", useOffset=False)
        if figure.get("y_range"):  # a fixed range: values that agree to 1e-9 look equal
            ax.set_ylim(*figure["y_range"])
        ax.set_title(panel.get("title", ""), fontsize=10)
        ax.set_xlabel(figure.get("x_label", ""), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel(figure.get("y_label", ""), fontsize=9)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return _svg(fig)


def bars_svg(figure: dict[str, Any]) -> str:
    """A bar chart with labelled bars; bars named in ``highlight`` stand out."""
    plt = _pyplot()
    labels, values = figure["labels"], figure["values"]
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT))
    highlight = set(figure.get("highlight", []))
    colors = ["#c2410c" if label in highlight else "#4c78a8" for label in labels]
    ax.bar(range(len(labels)), values, color=colors)
    if figure.get("log_y") and _spans_a_decade([{"series": [{"y": values}]}]):
        ax.set_yscale("log")  # bars a hundred times apart: on a linear axis one vanishes
    ax.set_xticks(range(len(labels)), labels, rotation=60, fontsize=7)
    ax.set_xlabel(figure.get("x_label", ""), fontsize=9)
    ax.set_ylabel(figure.get("y_label", ""), fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


RENDERERS = {"lines": lines_svg, "bars": bars_svg}


def figure_svg(figure: dict[str, Any] | None) -> str:
    """The SVG of a figure; empty when there is none or its kind is unknown."""
    if not figure or figure.get("kind") not in RENDERERS:
        return ""
    return RENDERERS[figure["kind"]](figure)
