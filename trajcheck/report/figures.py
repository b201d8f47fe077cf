"""Figures for the HTML report, drawn with matplotlib from the JSON of ``results.json``.

A study's figure is data (``core.Study``), not an image: the report draws it, so that
``trajcheck report DIR`` redraws it from the JSON alone. Figures are inline SVG, so the
page stays one self-contained file.
"""

from __future__ import annotations

import io
import math
from typing import Any


def lines_svg(figure: dict[str, Any]) -> str:
    """One panel per entry of ``figure["panels"]``, one line per series (with a band where
    the series gives ``low`` and ``high``), as an SVG string."""
    # matplotlib loads only when a report with a figure is written (it takes a second)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = figure["panels"]
    columns = min(len(panels), 4)
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(3.2 * columns, 2.8 * rows),
        sharey=bool(figure.get("share_y")),
        squeeze=False,
    )
    for ax, panel in zip(axes.flat, panels, strict=False):
        for series in panel["series"]:
            line = ax.plot(
                series["x"], series["y"], marker="o", markersize=3, label=series["label"]
            )
            if "low" in series and "high" in series:  # a confidence band
                color = line[0].get_color()
                ax.fill_between(series["x"], series["low"], series["high"], color=color, alpha=0.2)
        if figure.get("reference_y") is not None:
            ax.axhline(figure["reference_y"], color="0.4", linestyle="--", linewidth=1)
        if figure.get("log_x"):
            ax.set_xscale("log", base=2)
        if figure.get("log_y"):
            ax.set_yscale("log")
        ax.set_title(panel.get("title", ""), fontsize=10)
        ax.set_xlabel(figure.get("x_label", ""), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel(figure.get("y_label", ""), fontsize=9)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    buffer = io.StringIO()
    # a fixed hash salt and no date keep the SVG the same from one rendering to the next
    with matplotlib.rc_context({"svg.hashsalt": "trajcheck", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog and doctype: inline in HTML


RENDERERS = {"lines": lines_svg}


def figure_svg(figure: dict[str, Any] | None) -> str:
    """The SVG of a study's figure; empty when there is none or its kind is unknown."""
    if not figure or figure.get("kind") not in RENDERERS:
        return ""
    return RENDERERS[figure["kind"]](figure)
