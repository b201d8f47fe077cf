"""The "Adding a claim" file in README.md loads through --module and verifies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from trajcheck.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    section = README.read_text(encoding="utf-8").split("## Adding a claim", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "README.md has no python example under 'Adding a claim'"
    return match.group(1)


@pytest.mark.slow
def test_readme_example_verifies_through_module(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A new family written from the README alone: verified, its mutant refuted, listed
    and shown with --module."""
    module = tmp_path / "my_claims.py"
    module.write_text(readme_example(), encoding="utf-8")
    out = tmp_path / "example"
    args = ["verify", "example", "--module", str(module), "--profile", "ci", "--out", str(out)]
    assert main(args) == 0
    (claim,) = json.loads((out / "results.json").read_text())["claims"]
    assert claim["id"] == "example.gradient_contracts" and claim["family"] == "example"
    assert claim["verdict"] == "holds" and claim["examples"] >= 300
    assert claim["worst_margin"] < 1e-6  # tight: d = 1 attains q exactly
    ((mutant),) = claim["mutants"]
    assert mutant["verdict"] == "fails" and mutant["counterexample"]["part"] == "contracts by q"
    capsys.readouterr()
    assert main(["list", "--module", str(module)]) == 0
    assert "example.gradient_contracts" in capsys.readouterr().out
    assert main(["show", "example.gradient_contracts", "--module", str(module)]) == 0
    assert "q -> 0.99 q" in capsys.readouterr().out
