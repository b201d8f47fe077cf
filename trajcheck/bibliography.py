"""The works the claims cite: BibTeX files read with pybtex, each entry formatted for
reading (pybtex's ``plain`` style, as plain text)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path


class UnreadableBibliography(ValueError):
    pass


@cache
def _entries(path: Path, stamp: tuple[int, int]) -> dict[str, str]:
    """A file's entries formatted; ``stamp`` (modification time, size) keys the cache, so
    that a file edited in a long session is read again."""
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin

    try:
        data = parse_file(str(path), bib_format="bibtex")
        style = find_plugin("pybtex.style.formatting", "plain")()
        return {
            entry.key: entry.text.render_as("text") for entry in style.format_bibliography(data)
        }
    except Exception as exc:  # pybtex's parse and style errors share no base class
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableBibliography(f"{path}: not a readable BibTeX file ({first})") from None


def bibliography(paths: Sequence[Path]) -> dict[str, str]:
    """Every entry of the files, by key, formatted; the first file wins a key two share."""
    entries: dict[str, str] = {}
    for path in paths:
        resolved = Path(path).resolve()
        try:
            status = resolved.stat()
        except OSError as exc:
            raise UnreadableBibliography(f"{path}: cannot be read ({exc.strerror})") from None
        for key, text in _entries(resolved, (status.st_mtime_ns, status.st_size)).items():
            entries.setdefault(key, text)
    return entries


def cited(entries: dict[str, str], keys: Sequence[str]) -> dict[str, str]:
    """The entries of ``keys`` that are known, by key, sorted."""
    return {key: entries[key] for key in sorted(set(keys)) if key in entries}
