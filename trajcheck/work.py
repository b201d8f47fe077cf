"""A run cut into units of work, spread over an executor, and merged back in order.

A unit is one shard of one search: (claim, mutant or none, model, shard), the shard being
one of the profile's seeds (``trajcheck.runner.shard_seeds``), its seed derived from the
run's. A job is what one worker runs at a time:

- ``SearchJob``: one unit;
- ``FinishJob``: a claim's frontier, sketch, certificates and study, once its search is
  merged;
- ``FamilyJob``: every census claim of a family, whole, in one process, because they read
  the same trained models (a property's cache lives in its process; trained twice, they
  would cost twice).

The driver (``trajcheck.driver.run_entries``) submits every job, merges the units of each search in
the claim's order exactly as the sequential runner does (``merge_shards``,
``merge_models``: a search stops at its first violating shard, a mutant's at its first
refuting model), and cancels the units such a stop makes moot. The results therefore do
not depend on the executor or on the order the units finish in. A job that dies with its
worker (SIGKILL, out of memory, a lost machine) becomes an ``error`` outcome for each of
its units, with the reason; the rest of the run goes on.

Workers never receive a claim object: they rediscover the catalogue themselves (entry
points and the run's ``--module`` paths) from the job's ``Settings``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import torch

from trajcheck.core import Mutant, Outcome, Profile, Property
from trajcheck.discovery import Catalogue, Entry, discover
from trajcheck.runner import (
    Finish,
    finish_claim,
    model_budget,
    run_claim,
    search_shard,
    shard_seeds,
)

log = logging.getLogger("trajcheck")


@dataclass(frozen=True)
class Unit:
    """One shard of one search: the claim's or a mutant's (``mutant`` its id), on one
    model, with the ``shard``-th of the model's seeds."""

    claim: str
    mutant: str | None
    model: str
    shard: int

    @property
    def label(self) -> str:
        search = self.mutant or self.claim
        return f"{search} [{self.model}, shard {self.shard + 1}]"


@dataclass(frozen=True)
class Settings:
    """What a worker needs to redo any unit of the run: the catalogue's local modules
    (absolute paths), the profile as run, the device's name, the run's seed and session
    key, and the threads torch may use in a job (None: torch's own choice)."""

    modules: tuple[str, ...]
    profile: Profile
    device: str
    seed: int | None
    session: int
    threads: int | None = None
    log_lines: bool = False


@dataclass(frozen=True)
class SearchJob:
    unit: Unit


@dataclass(frozen=True)
class FinishJob:
    claim: str
    outcome: Outcome


@dataclass(frozen=True)
class FamilyJob:
    claims: tuple[str, ...]


Job: TypeAlias = SearchJob | FinishJob | FamilyJob


@dataclass
class ClaimParts:
    """A claim searched whole by a ``FamilyJob``: its outcome, its finish and its
    mutants' outcomes, in the claim's order."""

    outcome: Outcome
    finish: Finish
    mutants: list[Outcome]


# -- the worker's side ----------------------------------------------------------------

_catalogues: dict[tuple[str, ...], Catalogue] = {}

#: One job at a time per process, even in a worker that runs several threads (a Dask
#: worker's default): torch's thread count, Hypothesis's settings and the catalogue's
#: caches are per process, and Hypothesis is thread-safe only from 6.136.9.
_one_at_a_time = threading.Lock()


_everything_imported = False


def import_every_module() -> None:
    """Import every module of trajcheck and of the packages its catalogue's entry points
    name, once per process, before the first job.

    Hypothesis also draws the constants written in the "local" modules a process has
    imported (those outside site-packages: trajcheck itself, where it is installed
    editable). A worker imports fewer of them than the run's own process, and a process
    more as it goes; without this, one seed's search differed between ``--jobs 1`` and
    ``--jobs 2`` in an editable install. Where trajcheck is installed as a package, only
    the ``--module`` files are local, and discovery loads them everywhere.
    """
    global _everything_imported
    if _everything_imported:
        return
    import importlib
    import pkgutil
    from importlib.metadata import entry_points

    from trajcheck.discovery import ENTRY_POINT_GROUP

    packages = {"trajcheck"} | {
        ep.value.split(".", 1)[0].split(":", 1)[0] for ep in entry_points(group=ENTRY_POINT_GROUP)
    }
    for name in sorted(packages):
        package = importlib.import_module(name)
        for found in pkgutil.walk_packages(getattr(package, "__path__", []), f"{name}."):
            try:
                importlib.import_module(found.name)
            except Exception:  # an optional part (pytest's plugin without pytest)
                continue
    _everything_imported = True


def _catalogue(modules: tuple[str, ...]) -> Catalogue:
    if modules not in _catalogues:
        _catalogues[modules] = discover([Path(m) for m in modules])
    return _catalogues[modules]


def _find(catalogue: Catalogue, claim_id: str) -> Entry:
    entry = catalogue.entries.get(claim_id)
    if entry is None:  # a worker whose installation differs from the run's
        raise LookupError(f"this worker's catalogue has no claim {claim_id!r}")
    return entry


def mutant_of(entry: Entry, mutant_id: str | None) -> Mutant | None:
    if mutant_id is None:
        return None
    claim = entry.claim
    return next(m for m in claim.mutants if claim.mutant_id(m) == mutant_id)


def _prop(entry: Entry, model: str) -> Property:
    prop = entry.prop_for(model)
    if prop is None:
        raise LookupError(f"claim {entry.claim.id!r} has no model {model!r} on this worker")
    return prop


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Torch's intra-op threads for a job, restored afterwards. A run sets one thread
    everywhere, in this process as in a worker: a float32 sum split over two threads
    rounds differently (a trained model's top Hessian eigenvalue moved in its sixth
    digit), and a run's results must not depend on how its work is spread."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def _worker(settings: Settings) -> Iterator[None]:
    """A job in a worker process: a seeded run's Hypothesis files in a folder of their
    own (removed afterwards), and progress lines in the log."""
    if settings.log_lines:
        from trajcheck.progress import log_progress_lines

        log_progress_lines()
    with hypothesis_storage(settings.seed):
        yield


def run_job(
    settings: Settings,
    job: Job,
    catalogue: Catalogue | None = None,
    on_example: Callable[[int], None] | None = None,
) -> Outcome | Finish | dict[str, ClaimParts]:
    """Run one job (in a worker, or in this process with its ``catalogue``)."""
    with _one_at_a_time, _torch_threads(settings.threads):
        import_every_module()
        if catalogue is None:
            with _worker(settings):
                return _run(settings, job, _catalogue(settings.modules), on_example)
        return _run(settings, job, catalogue, on_example)


def _run(
    settings: Settings,
    job: Job,
    catalogue: Catalogue,
    on_example: Callable[[int], None] | None,
) -> Outcome | Finish | dict[str, ClaimParts]:
    from trajcheck.devices import resolve_device

    device = resolve_device(settings.device)
    profile, seed, session = settings.profile, settings.seed, settings.session
    if isinstance(job, SearchJob):
        unit = job.unit
        entry = _find(catalogue, unit.claim)
        prop, mutant = _prop(entry, unit.model), mutant_of(entry, unit.mutant)
        budget = model_budget(entry.props, prop, mutant, profile)
        run_seed = shard_seeds(prop, profile, seed)[unit.shard]
        return search_shard(prop, mutant, profile, device, budget, run_seed, on_example, session)
    if isinstance(job, FinishJob):
        return finish_claim(_find(catalogue, job.claim).props, job.outcome, device)
    parts = {}
    for claim_id in job.claims:
        entry = _find(catalogue, claim_id)
        result = run_claim(
            entry.props, entry.origin_by_model, profile, device, seed, None, on_example,
            session,
        )  # fmt: skip
        finish = Finish(
            result.outcome.frontier, result.outcome.sketch, result.certificates, result.study
        )
        parts[claim_id] = ClaimParts(result.outcome, finish, [m.outcome for m in result.mutants])
    return parts


# -- the plan -------------------------------------------------------------------------


def units_of(entry: Entry, profile: Profile) -> dict[str | None, list[list[Unit]]]:
    """A claim's units: for the claim (key None) and each mutant (its id), one list per
    model, in the claim's order, of that model's shards in seed order."""
    claim = entry.claim
    searches: list[str | None] = [None, *(claim.mutant_id(m) for m in claim.mutants)]
    return {
        search: [
            [
                Unit(claim.id, search, prop.model, shard)
                for shard in range(len(shard_seeds(prop, profile, 0)))
            ]
            for prop in entry.props
        ]
        for search in searches
    }


def _census_family(entry: Entry) -> str | None:
    return entry.claim.family if any(p.census for p in entry.props) else None


def plan(entries: Sequence[Entry], profile: Profile) -> list[Job]:
    """Every job of a run, in catalogue order: a family's census claims as one job, every
    other claim's units one job each."""
    jobs: list[Job | str] = []  # a family's name holds the place of its job
    families: dict[str, list[str]] = {}
    for entry in entries:
        family = _census_family(entry)
        if family is not None:
            if family not in families:
                families[family] = []
                jobs.append(family)
            families[family].append(entry.claim.id)
            continue
        for shards_by_model in units_of(entry, profile).values():
            jobs.extend(SearchJob(u) for shards in shards_by_model for u in shards)
    return [FamilyJob(tuple(families[j])) if isinstance(j, str) else j for j in jobs]


@contextmanager
def hypothesis_storage(seed: int | None) -> Iterator[None]:
    """A seeded run keeps Hypothesis's files (its example database is off already, but
    it caches the constants it reads from local modules) in a temporary folder, removed
    afterwards: it writes nothing outside its --out. An unseeded run uses the usual
    .hypothesis/ of the current folder, so that a failure found once is tried first."""
    if seed is None:
        yield
        return
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    with tempfile.TemporaryDirectory(prefix="trajcheck-hypothesis-") as home:
        set_hypothesis_home_dir(home)
        try:
            yield
        finally:
            set_hypothesis_home_dir(None)
