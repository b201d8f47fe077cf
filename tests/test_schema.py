"""The published JSON Schemas: every file trajcheck writes is checked against them
(strictly in the tests, see conftest.py), and ``trajcheck validate`` checks files by hand."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from trajcheck.cli import main
from trajcheck.report.results import STRICT_SCHEMA, SchemaViolation, run_files
from trajcheck.report.schema import COUNTEREXAMPLE_SCHEMA, RESULTS_SCHEMA, schema

GOOD = {
    "version": "0.1.0", "format": 2, "profile": "ci", "device": "cpu", "seed": 1,
    "seconds": 1.0, "claims": [],
}  # fmt: skip


def test_the_suite_runs_with_the_strict_check() -> None:
    assert os.environ[STRICT_SCHEMA] == "1"  # inherited by every subprocess a test starts


def test_a_run_that_does_not_conform_is_an_error_under_the_strict_check() -> None:
    with pytest.raises(
        SchemaViolation, match=r"results\.json does not conform .* \(at \$\.seconds: "
    ):
        run_files({**GOOD, "seconds": "soon"}, {})
    assert set(run_files(GOOD, {})) == {"results.json"}


def test_elsewhere_it_is_written_with_a_warning(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(STRICT_SCHEMA, "0")
    files = run_files({**GOOD, "seconds": "soon"}, {})
    assert '"seconds": "soon"' in files["results.json"]  # the results are not lost
    assert "warning: results.json does not conform" in capsys.readouterr().err


def test_the_schemas_name_their_format() -> None:
    assert schema(RESULTS_SCHEMA)["$id"].endswith("/results-2.schema.json")
    assert schema(COUNTEREXAMPLE_SCHEMA)["$id"].endswith("/counterexample-1.schema.json")
    assert "executor" in schema(RESULTS_SCHEMA)["properties"]


def test_validate_says_per_file_whether_it_conforms(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "results.json"
    good.write_text(json.dumps(GOOD))
    found = tmp_path / "found.json"
    found.write_text(json.dumps({"claim": "toy.x", "params": {}, "lhs": 2.0, "rhs": 1.0}))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"claim": "toy.x", "params": {}, "lhs": "2", "rhs": 1.0}))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["validate", str(good), str(found)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{good}: conforms to results.schema.json",
                   f"{found}: conforms to counterexample.schema.json"]  # fmt: skip
    assert main(["validate", str(good), str(wrong), str(broken), str(tmp_path / "no")]) == 2
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and out[0].endswith("conforms to results.schema.json")
    assert "does not conform to counterexample.schema.json (at $.lhs:" in out[1]
    assert "unreadable JSON" in out[2] and "unreadable JSON" in out[3]


def test_validate_prints_where_the_schemas_are(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["validate", "--schemas"]) == 0
    paths = [Path(line) for line in capsys.readouterr().out.splitlines()]
    assert [p.name for p in paths] == [RESULTS_SCHEMA, COUNTEREXAMPLE_SCHEMA]
    assert all(
        json.loads(p.read_text())["$schema"].startswith("https://json-schema") for p in paths
    )
    assert main(["validate"]) == 2
