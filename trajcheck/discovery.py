"""Discovery: find every ``Property`` without naming the catalogue.

Claims come from the entry-point group ``trajcheck.claims`` (the built-in catalogue is
registered there like any third-party package) and from local files given with
``--module PATH``. An entry point names a module or package; every module-level
``Property`` in it, and in its submodules, is collected.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from trajcheck.core import Claim, Property

ENTRY_POINT_GROUP = "trajcheck.claims"


class DiscoveryError(Exception):
    """A claim source could not be loaded, or two sources define the same id."""


class UnknownSelector(Exception):
    """An id or family on the command line that names nothing in the catalogue."""


@dataclass(frozen=True)
class Entry:
    """A claim and the properties that bind it to its models, in discovery order."""

    props: tuple[Property, ...]
    origins: tuple[str, ...]  # per property: "entry point NAME" or "module PATH"

    @property
    def claim(self) -> Claim:
        return self.props[0].claim

    @property
    def origin_by_model(self) -> dict[str, str]:
        return {p.model: o for p, o in zip(self.props, self.origins, strict=True)}

    def prop_for(self, model: str) -> Property | None:
        return next((p for p in self.props if p.model == model), None)


def properties_in(module: ModuleType) -> list[Property]:
    """Module-level properties of ``module`` and, for a package, of its submodules, in
    the catalogue's order: the package's ``CATALOGUE_ORDER`` (a sequence of submodule
    names) says which come first, in which order; any it does not name follow, by name.

    A property imported into a second module is the same object: it is kept once.
    """
    modules = [module]
    if hasattr(module, "__path__"):
        submodules = [
            info.name
            for info in pkgutil.walk_packages(module.__path__, prefix=module.__name__ + ".")
        ]
        listed = [f"{module.__name__}.{name}" for name in getattr(module, "CATALOGUE_ORDER", ())]
        ordered = [n for n in listed if n in submodules]
        ordered += sorted(n for n in submodules if n not in listed)
        modules += [importlib.import_module(name) for name in ordered]
    found: dict[int, Property] = {}
    for m in modules:
        for value in vars(m).values():
            if isinstance(value, Property):
                found.setdefault(id(value), value)
    return list(found.values())


def load_module_file(path: Path) -> ModuleType:
    """Import a local Python file as a module; every failure becomes one DiscoveryError."""
    path = Path(path)
    if not path.is_file():
        raise DiscoveryError(f"--module {path}: no such file")
    if path.suffix != ".py":
        raise DiscoveryError(f"--module {path}: not a Python file (.py)")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"trajcheck_local_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DiscoveryError(f"--module {path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:  # a script's exit must not end (or pass) the run
        del sys.modules[name]
        raise DiscoveryError(
            f"--module {path}: called sys.exit({exc.code!r}) while being imported; a claims "
            "file must only define claims"
        ) from None
    except Exception as exc:
        del sys.modules[name]
        raise DiscoveryError(f"--module {path}: {type(exc).__name__}: {exc}") from exc
    return module


class Catalogue:
    """Every discovered property, by claim id, in catalogue order; ``bibliographies``:
    the BibTeX files its packages and modules name (``BIBLIOGRAPHY``)."""

    def __init__(
        self, found: Iterable[tuple[Property, str]], bibliographies: Sequence[Path] = ()
    ) -> None:
        self.bibliographies = tuple(bibliographies)
        by_id: dict[str, Entry] = {}
        for prop, origin in found:
            cid = prop.claim.id
            entry = by_id.get(cid)
            if entry is None:
                by_id[cid] = Entry((prop,), (origin,))
                continue
            if entry.claim != prop.claim:
                raise DiscoveryError(
                    f"claim {cid!r} is defined twice: by {entry.origins[0]} and {origin}"
                )
            if entry.prop_for(prop.model) is not None:
                raise DiscoveryError(
                    f"claim {cid!r} is bound to model {prop.model!r} twice "
                    f"({entry.origin_by_model[prop.model]} and {origin})"
                )
            by_id[cid] = Entry((*entry.props, prop), (*entry.origins, origin))

        # Families in the order they were found (the catalogue's order); inside a family,
        # claims keep the order their modules define them. A stable sort by first place.
        first: dict[str, int] = {}
        for cid in by_id:
            first.setdefault(cid.split(".", 1)[0], len(first))
        self.entries = {
            cid: by_id[cid] for cid in sorted(by_id, key=lambda c: first[c.split(".", 1)[0]])
        }

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def families(self) -> list[str]:
        return list(dict.fromkeys(e.claim.family for e in self.entries.values()))

    def select(self, selectors: Sequence[str]) -> list[Entry]:
        """Claims named by id or by family; no selector means all of them."""
        if not selectors:
            return list(self.entries.values())
        chosen: dict[str, Entry] = {}
        for selector in selectors:
            if selector in self.entries:
                chosen[selector] = self.entries[selector]
            elif selector in self.families:
                chosen.update(
                    (cid, e) for cid, e in self.entries.items() if e.claim.family == selector
                )
            else:
                names = [*self.entries, *self.families]
                close = difflib.get_close_matches(selector, names, n=3, cutoff=0.4)
                hint = (
                    f"; did you mean {', '.join(close)}?"
                    if close
                    else f"; known families: {', '.join(self.families)}"
                )
                raise UnknownSelector(f"unknown claim or family {selector!r}{hint}")
        return [e for cid, e in self.entries.items() if cid in chosen]


def bibliography_of(module: ModuleType) -> list[Path]:
    """The BibTeX files a package or module names in ``BIBLIOGRAPHY`` (a path or a list of
    paths), where its claims' ``references`` keys are."""
    named = getattr(module, "BIBLIOGRAPHY", None)
    if named is None:
        return []
    paths = [named] if isinstance(named, (str, Path)) else list(named)
    for path in paths:
        if not Path(path).is_file():
            raise DiscoveryError(f"{module.__name__}: its BIBLIOGRAPHY {path} is not a file")
    return [Path(p) for p in paths]


def discover(modules: Sequence[Path] = ()) -> Catalogue:
    """The catalogue: every entry point of the group, then each local module file."""
    found: list[tuple[Property, str]] = []
    bibliographies: list[Path] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
        except (Exception, SystemExit) as exc:
            raise DiscoveryError(f"entry point {ep.name!r} ({ep.value}): {exc!r}") from None
        if not isinstance(loaded, ModuleType):
            raise DiscoveryError(f"entry point {ep.name!r} ({ep.value}) must name a module")
        found.extend((p, f"entry point {ep.name}") for p in properties_in(loaded))
        bibliographies += bibliography_of(loaded)
    for path in modules:
        module = load_module_file(path)
        props = properties_in(module)
        if not props:
            raise DiscoveryError(f"--module {path}: defines no trajcheck Property")
        found.extend((p, f"module {Path(path).resolve()}") for p in props)
        bibliographies += bibliography_of(module)
    return Catalogue(found, bibliographies)
