"""Discovery: the built-in catalogue through its entry point, local files, selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from trajcheck.discovery import (
    ENTRY_POINT_GROUP,
    DiscoveryError,
    UnknownSelector,
    discover,
    load_module_file,
)

LOCAL = """
from tests.helpers import toy_claim, toy_property
TOY = toy_property(toy_claim("toy.local"))
"""


def test_builtin_catalogue_comes_through_the_entry_point() -> None:
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert names.get("builtin") == "trajcheck_catalogue.properties"
    catalogue = discover()
    assert all(e.origins == ("entry point builtin",) * len(e.props) for e in catalogue)
    assert list(catalogue.entries)[:3] == [
        "smoothing.quadratic",
        "smoothing.quadratic_rate",
        "smoothing.any_step",
    ]


def test_local_module_adds_its_claims(tmp_path: Path) -> None:
    path = tmp_path / "local.py"
    path.write_text(LOCAL)
    catalogue = discover([path])
    assert catalogue.entries["toy.local"].origins == (f"module {path.resolve()}",)
    assert "toy" in catalogue.families


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("def broken(:", "SyntaxError"),
        ("import no_such_package_anywhere", "ModuleNotFoundError"),
        ("x = 1", "defines no trajcheck Property"),
    ],
)
def test_broken_module_gives_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "broken.py"
    path.write_text(content)
    with pytest.raises(DiscoveryError, match=message):
        discover([path])


def test_missing_or_foreign_module_file(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="no such file"):
        load_module_file(tmp_path / "absent.py")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DiscoveryError, match="not a Python file"):
        load_module_file(tmp_path / "notes.txt")


def test_a_claim_defined_twice_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "twice.py"
    path.write_text(LOCAL.replace("toy.local", "smoothing.quadratic"))
    with pytest.raises(DiscoveryError, match="defined twice"):
        discover([path])


def test_selectors_take_ids_and_families_and_suggest_close_matches() -> None:
    catalogue = discover()
    descent = [e.claim.id for e in catalogue.select(["descent"])]
    assert descent[:2] == ["descent.lemma", "descent.error_contraction"]
    assert all(cid.startswith("descent.") for cid in descent)
    assert [e.claim.id for e in catalogue.select(["descent.lemma", "smoothing.quadratic"])] == [
        "smoothing.quadratic",
        "descent.lemma",
    ]
    assert len(catalogue.select([])) == len(catalogue)
    with pytest.raises(UnknownSelector, match=r"did you mean smoothing\.quadratic"):
        catalogue.select(["smoothing.quadratc"])
    with pytest.raises(UnknownSelector, match="known families"):
        catalogue.select(["no.such.claim"])


def test_a_module_may_bind_a_known_claim_to_a_new_model(tmp_path: Path) -> None:
    path = tmp_path / "more.py"
    path.write_text(
        "from tests.helpers import toy_claim, toy_property\n"
        "from trajcheck.core import Property\n"
        "A = toy_property(toy_claim('toy.shared'))\n"
        "B = Property(A.claim, A.instances, A.measure, A.dimension, model='other')\n"
    )
    entry = discover([path]).entries["toy.shared"]
    assert [p.model for p in entry.props] == ["instances", "other"]
    path.write_text(path.read_text().replace("model='other'", "model='instances'"))
    with pytest.raises(DiscoveryError, match="bound to model 'instances' twice"):
        discover([path])
