"""A claim's statement in LaTeX, drawn as inline SVG for ``report.html``.

matplotlib's mathtext parses a large subset of TeX's math mode (fractions, sub- and
superscripts, Greek, ``\\|``, ``\\nabla``, ``\\mathbb``, ``\\left(``...) and lays it out
with Computer Modern glyphs; the glyphs are written as SVG paths, so the page needs no
font, no script and no network to show the maths. It has no line breaking: ``\\\\`` in a
claim's ``latex`` separates lines, each drawn on its own.

A statement mathtext cannot parse (a third party's claim, an edited results.json) is not
drawn; the report shows the plain-text statement, which it shows in any case.
"""

from __future__ import annotations

import hashlib
import io
import re
from functools import cache


class UnreadableLatex(ValueError):
    pass


def lines(latex: str) -> list[str]:
    """The lines of a statement (``\\\\`` separates them), blanks dropped."""
    return [line.strip() for line in latex.split("\\\\") if line.strip()]


@cache
def line_svg(line: str) -> str:
    """One line of maths as an ``<svg>`` element: no XML prolog, no metadata (it holds the
    date), no comments, every id prefixed by a hash of the line (a page holds many
    formulas, and each defines its glyphs under the same names)."""
    import matplotlib
    from matplotlib import mathtext

    buffer = io.BytesIO()
    try:
        # LaTeX's own glyphs as paths (no font needed), a transparent background, and a
        # fixed salt for the ids: one results.json always gives the same page
        with matplotlib.rc_context(
            {"mathtext.fontset": "cm", "font.size": 16, "svg.fonttype": "path",
             "svg.hashsalt": "trajcheck", "savefig.transparent": True}
        ):  # fmt: skip
            mathtext.math_to_image(f"${line}$", buffer, format="svg", dpi=72)
    except ValueError as exc:  # mathtext's ParseFatalException is a ValueError
        raise UnreadableLatex(f"{line!r}: {str(exc).splitlines()[0]}") from None
    svg = buffer.getvalue().decode("utf-8")
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)  # matplotlib escapes "--" inside
    prefix = "m" + hashlib.sha1(line.encode("utf-8")).hexdigest()[:10] + "-"
    svg = re.sub(r'\bid="', f'id="{prefix}', svg)
    svg = re.sub(r'href="#', f'href="#{prefix}', svg)
    return re.sub(r"\n\s*", "\n", svg).strip()


def statement_svg(latex: str) -> list[str]:
    """Each line of a statement as an ``<svg>`` element; UnreadableLatex if mathtext
    cannot parse one."""
    return [line_svg(line) for line in lines(latex)]
