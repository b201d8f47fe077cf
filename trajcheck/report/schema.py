"""The JSON Schemas of what trajcheck writes (shipped in ``trajcheck/schemas``), and the
one-line message a document that does not conform gets.

``results.schema.json`` describes ``results.json`` (format 2; format 1 reads the same) and
``counterexample.schema.json`` a counterexample file. Check a file by hand with
``python -m jsonschema`` or ``check-jsonschema --schemafile``, or in Python with
:func:`problem`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
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
