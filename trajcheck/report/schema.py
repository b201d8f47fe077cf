"""The JSON Schemas of what trajcheck writes (shipped in ``trajcheck/schemas``), and the
one-line message a document that does not conform gets.

``results.schema.json`` describes ``results.json`` (format 2; format 1 reads the same) and
``counterexample.schema.json`` a counterexample file. A document's ``format`` is the
version of the schema it follows (the number in ``$id``). Check files with ``trajcheck
validate FILE...`` or ``check-jsonschema --schemafile``, or in Python with :func:`problem`.
"""

from __future__ import annotations

import json
import math
import os
import stat
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

RESULTS_SCHEMA = "results.schema.json"
COUNTEREXAMPLE_SCHEMA = "counterexample.schema.json"


@cache
def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        files("trajcheck").joinpath("schemas", name).read_text(encoding="utf-8")
    )
    return loaded


def problem(document: Any, name: str) -> str | None:
    """Why ``document`` does not conform to the schema ``name`` (the most telling error,
    where it is), or None when it does."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(schema(name)).iter_errors(document))
    if error is None:
        return None
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"at {error.json_path}: {message}"


def schema_paths() -> list[Path]:
    """Where the schema files are installed."""
    return [Path(str(files("trajcheck").joinpath("schemas", name))) for name in SCHEMAS]


SCHEMAS = (RESULTS_SCHEMA, COUNTEREXAMPLE_SCHEMA)


def check_file(path: Path) -> tuple[str, bool]:
    """One line on whether the file at ``path`` conforms to its schema (results.json or a
    counterexample file, told apart by their required fields), and whether it does."""
    try:
        document = read_document(path)
    except UnreadableJSON as exc:
        return str(exc), False
    name = (
        COUNTEREXAMPLE_SCHEMA
        if isinstance(document, dict) and "claim" in document
        else RESULTS_SCHEMA
    )
    found = problem(document, name)
    if found is not None:
        return f"does not conform to {name} ({found})", False
    return f"conforms to {name}", True


class UnreadableJSON(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise UnreadableJSON(f"unreadable JSON (holds {name}, not a finite number)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as inf
        raise UnreadableJSON(f"unreadable JSON (holds {text}, beyond float64's range)")
    return value


#: Digits of the largest integer a trajcheck file may hold: float64's range (a larger one
#: reads as an int that every later float() of it overflows).
MAX_DIGITS = 309


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise UnreadableJSON(
            f"unreadable JSON (holds an integer of {len(text.lstrip('-')):,} digits, beyond "
            "float64's range)"
        )
    return int(text)


def read_document(path: Path) -> Any:
    """A JSON file's content; every way of failing becomes one UnreadableJSON line:
    missing, unreadable, not a regular file (a FIFO would block the read forever), not
    JSON, nested beyond the parser's depth, a number that is not finite (NaN, Infinity,
    -Infinity, which Python's json accepts, or 1e999) or an integer beyond Python's
    4,300-digit conversion limit. No reader of trajcheck's files takes them as numbers."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not wait for one
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise UnreadableJSON(f"unreadable JSON ({exc})") from None
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise UnreadableJSON("unreadable JSON (not a regular file)")
        os.set_blocking(handle, True)
        with os.fdopen(handle, "rb", closefd=False) as stream:
            text = stream.read().decode("utf-8")
    except OSError as exc:
        raise UnreadableJSON(f"unreadable JSON ({exc})") from None
    except UnicodeDecodeError as exc:
        raise UnreadableJSON(f"unreadable JSON ({exc})") from None
    finally:
        os.close(handle)
    try:
        return json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except UnreadableJSON:
        raise
    except RecursionError:
        raise UnreadableJSON("unreadable JSON (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, and int() past its digit limit
        raise UnreadableJSON(f"unreadable JSON ({exc})") from None
