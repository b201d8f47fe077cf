"""What is installed cannot be shadowed: the catalogue lives under ``trajcheck_catalogue``,
so a user's project with its own ``models/``, ``theory/`` or ``properties/`` folder runs
trajcheck (and its pytest plugin) with the built-in catalogue intact."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points, files
from pathlib import PurePosixPath

import pytest

from trajcheck.discovery import ENTRY_POINT_GROUP

USERS_OWN = "raise ImportError('this is the user project\\'s own {name} package')\n"


def test_the_wheel_installs_no_top_level_catalogue_folder() -> None:
    installed = {
        PurePosixPath(str(f)).parts[0] for f in files("trajcheck") or [] if f.suffix == ".py"
    }
    assert installed <= {"trajcheck", "trajcheck_catalogue"}, installed
    (builtin,) = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "builtin"]
    assert builtin.value == "trajcheck_catalogue.properties"


@pytest.mark.slow
def test_a_project_with_its_own_models_folder_runs_the_builtin_catalogue(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in ("models", "theory", "properties"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(USERS_OWN.format(name=name))
    # python -m puts the current folder first on sys.path: the user's folders come first
    environment = {**os.environ, "PYTHONPATH": str(tmp_path)}
    listed = subprocess.run(
        [sys.executable, "-m", "trajcheck", "list", "--json"], cwd=tmp_path, env=environment,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert '"descent.lemma"' in listed.stdout and "user project" not in listed.stderr
    out = tmp_path / "run"
    verified = subprocess.run(
        [sys.executable, "-m", "trajcheck", "verify", "descent.lemma", "--profile", "ci",
         "--seed", "1", "--out", str(out)],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert (out / "results.json").is_file()
