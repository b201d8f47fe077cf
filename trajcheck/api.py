"""The Python API: :func:`verify` runs claims and :func:`load` reads a saved run; both give
a :class:`Run`. The command line (``trajcheck.cli``) is a thin layer over :func:`execute`.

In a notebook::

    import trajcheck
    run = trajcheck.verify(["descent.lemma"], profile="ci", seed=1)
    run                       # the report's summary table
    run.frame()               # pandas: one row per claim and model
    run.counterexample("descent.lemma~aL-over-4")

A request trajcheck refuses (an unknown claim, profile or device, an option out of range,
a folder that holds another run) raises :class:`UsageError` before any work is done.
"""

from __future__ import annotations

import dataclasses
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trajcheck.bibliography import UnreadableBibliography, bibliography, cited
from trajcheck.devices import DeviceUnavailable, resolve_device
from trajcheck.discovery import Catalogue, DiscoveryError, Entry, UnknownSelector, discover
from trajcheck.interrupts import checkpoint, deferred, settle, watching
from trajcheck.profiles import Profile, UnknownProfile, get_profile
from trajcheck.progress import Hooks, shown, silent

if TYPE_CHECKING:
    import pandas as pd

    from trajcheck.core import Result
    from trajcheck.driver import Executor
    from trajcheck.work import Unit

__all__ = ["Run", "RunNotWritten", "UsageError", "load", "verify"]

#: The largest number of worker processes: more than this on one machine is a typo.
MAX_JOBS = 1024

#: The largest sweep: memory no longer grows with it, but time does (10^9 quadratics take
#: hours even on a GPU); a larger number is more likely a typo than a plan.
MAX_SWEEP = 10**9

MAX_SEED = 2**32 - 1


class UsageError(ValueError):
    """A request refused before any work: one line that names the problem."""


class RunNotWritten(OSError):
    """The run was searched but its folder could not be written (a full disk): one line;
    the folder keeps what it held, and nothing is left beside it (exit 1)."""


def out_folder(out: str | Path) -> Path:
    """A run's folder as asked for; an empty name is refused (``Path("")`` would be the
    current folder, and a run there would replace it)."""
    if str(out).strip() == "":
        raise UsageError("--out '': the folder name is empty (write --out . for this folder)")
    return Path(out)


@dataclass(frozen=True)
class Request:
    """What a verify run is asked to do (the options of ``trajcheck verify``). ``out``
    None keeps the run in memory; ``jobs`` None takes every core."""

    selectors: tuple[str, ...] = ()
    profile: str = "default"
    seed: int | None = None
    device: str = "auto"
    modules: tuple[str, ...] = ()
    out: Path | None = None
    force: bool = False
    sweep: int | None = None
    jobs: int | None = 1
    scheduler: str | None = None


class Run:
    """A verify run: its ``results.json`` document (``document``), the folder it was
    written to or read from (``folder``, None for a run kept in memory), and, for a run
    made in this process, the engine's results (``results``)."""

    def __init__(
        self,
        document: dict[str, Any],
        folder: Path | None = None,
        results: Sequence[Result] | None = None,
    ) -> None:
        self.document = document
        self.folder = folder
        self.results = list(results) if results is not None else None

    @property
    def claims(self) -> list[dict[str, Any]]:
        """Each claim's entry of ``results.json``, in catalogue order."""
        return list(self.document["claims"])

    @property
    def as_expected(self) -> bool:
        """Whether every verdict is as expected (the CLI's exit code 0)."""
        return all(claim["as_expected"] for claim in self.document["claims"])

    def claim(self, identifier: str) -> dict[str, Any]:
        """One claim's entry of ``results.json``."""
        for claim in self.document["claims"]:
            if claim["id"] == identifier:
                return dict(claim)
        known = ", ".join(c["id"] for c in self.document["claims"]) or "none"
        raise KeyError(f"{identifier!r} is not a claim of this run (its claims: {known})")

    def frame(self, per: str = "model") -> pd.DataFrame:
        """The run as a table (pandas), with the columns of ``summary.csv``: one row per
        claim and model (``per="model"``; a ``model`` column is added, and ``verdict``,
        ``examples``, ``worst_margin``, ``swept`` and ``seconds`` are that model's), or one
        row per claim (``per="claim"``: ``summary.csv`` itself)."""
        from trajcheck.report.table import model_frame, summary_frame

        if per == "claim":
            return summary_frame(self.document)
        if per == "model":
            return model_frame(self.document)
        raise ValueError(f"per={per!r}: choose 'model' or 'claim'")

    def counterexample(self, identifier: str) -> dict[str, Any]:
        """The counterexample of a claim or mutant (``ID`` or ``ID~MUTANT``), as its file
        ``counterexamples/ID.json`` holds it (what ``trajcheck replay`` reads)."""
        from trajcheck.report.folder import counterexample_name
        from trajcheck.report.results import counterexample_files

        files = counterexample_files(self.document)
        found = files.get(counterexample_name(identifier))
        if found is None:
            ids = [
                searched["id"]
                for claim in self.document["claims"]
                for searched in [claim, *claim["mutants"]]
                if searched.get("counterexample")
            ]
            raise KeyError(
                f"{identifier!r} has no counterexample in this run "
                f"(those that have one: {', '.join(ids) or 'none'})"
            )
        return found

    def _repr_html_(self) -> str:
        """The report's summary table, for a notebook."""
        from trajcheck.report.html import summary_table
        from trajcheck.report.summary import headline, run_line

        return (
            f"<div class='trajcheck-run'><style>{STYLE_SCOPE}</style>"
            f"<p><b>{escape(headline(self.document))}</b><br>"
            f"<small>{escape(run_line(self.document))}</small></p>"
            f"{summary_table(self.document['claims'], links=False)}</div>"
        )

    def __repr__(self) -> str:
        from trajcheck.report.summary import headline

        where = f" in {self.folder}" if self.folder is not None else ""
        return f"<trajcheck.Run{where}: {headline(self.document)}>"


#: The report's badge colours, scoped to the summary table in a notebook (the notebook's
#: own style stays untouched).
STYLE_SCOPE = """
.trajcheck-run .badge { display: inline-block; padding: 0 .5rem; border-radius: .6rem;
  font-weight: 600; }
.trajcheck-run .holds { background: #d8f3dc; color: #1b4332; }
.trajcheck-run .fails { background: #ffe5d9; color: #7f2704; }
.trajcheck-run .error { background: #f8d7da; color: #721c24; }
.trajcheck-run .unexpected { outline: 2px solid #c1121f; }
.trajcheck-run td.num { text-align: right; }
"""


def verify(
    selectors: str | Iterable[str] | None = (),
    *,
    profile: str = "default",
    seed: int | None = None,
    device: str = "auto",
    modules: Iterable[str | Path] = (),
    out: str | Path | None = None,
    force: bool = False,
    sweep: int | None = None,
    jobs: int | None = 1,
    scheduler: str | None = None,
    progress: bool = True,
) -> Run:
    """Search the claims that ``selectors`` name (ids or families; none: the whole
    catalogue) for violations, as ``trajcheck verify`` does, and return the run.

    ``out``: a folder to write the run to (results.json, report.md, report.html,
    summary.csv, counterexamples/), refused if it holds another run unless ``force``;
    None keeps it in memory. ``jobs``: worker processes (1, the default, searches in this
    process; None takes every core); ``scheduler``: a Dask scheduler's address or
    ``"local"``. ``progress``: a line on stderr per claim as it finishes.

    A seeded run gives the same results as ``trajcheck verify --seed`` when this process
    runs with ``PYTHONHASHSEED=6640`` (the console script sets it itself; Hypothesis's
    shrinking depends on the hash seed).
    """
    chosen = (selectors,) if isinstance(selectors, str) else tuple(selectors or ())
    request = Request(
        selectors=chosen,
        profile=profile,
        seed=seed,
        device=device,
        modules=tuple(str(m) for m in modules),
        out=out_folder(out) if out is not None else None,
        force=force,
        sweep=sweep,
        jobs=jobs,
        scheduler=scheduler,
    )
    return execute(request, shown if progress else silent)


def load(path: str | Path) -> Run:
    """A saved run: a run's folder, or its ``results.json`` file. A file that is missing,
    unreadable or does not conform to the schema raises ``MalformedResults`` (one line)."""
    from trajcheck.report.results import MalformedResults, load_results, read_json, validate

    path = Path(path)
    if not path.exists():
        raise MalformedResults(f"{path}: no such file or folder")
    if path.is_file():
        return Run(validate(read_json(path), str(path)), folder=path.parent)
    return Run(load_results(path), folder=path)


def _check_range(name: str, value: int | None, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{name} {value!r} is out of range (an integer in {low}..{high})")


def _check(request: Request) -> tuple[Profile, Any]:
    """The profile and device of a request; every option in range."""
    _check_range("seed", request.seed, 0, MAX_SEED)
    _check_range("sweep", request.sweep, 0, MAX_SWEEP)
    _check_range("jobs", request.jobs, 1, MAX_JOBS)
    if request.scheduler not in (None, "local") and request.jobs not in (None, 1):
        raise UsageError(
            "jobs with a scheduler's address: the cluster's workers set the parallelism"
        )
    try:
        profile = get_profile(request.profile)
        device = resolve_device(request.device)
    except (UnknownProfile, DeviceUnavailable) as exc:
        raise UsageError(str(exc)) from None
    if request.sweep is not None:
        profile = dataclasses.replace(profile, sweep=request.sweep)
    return profile, device


def catalogue_of(modules: Sequence[str]) -> Catalogue:
    try:
        return discover([Path(m) for m in modules])
    except DiscoveryError as exc:
        raise UsageError(str(exc)) from None


def execute(request: Request, progress: Callable[[int], Hooks], *, console: bool = False) -> Run:
    """Run ``request``: check it, search its claims on the executor it asks for, write
    its folder (when it names one) whole or not at all, and return the run. ``progress``
    makes the hooks for a run of that many units of work; ``console``: the console script
    runs it (an interrupt after the run is written is then ignored)."""
    from trajcheck.executors import ExecutorUnavailable
    from trajcheck.report import FolderProblem, build_results, prepare
    from trajcheck.work import Settings, hypothesis_storage, plan

    profile, device = _check(request)
    out = request.out
    with watching():
        # an interrupt while the catalogue is imported (torch's C++ cannot pass on an
        # exception raised in a callback) or while the folder is prepared is held until
        # that is done: the release of the folder is then sure
        with deferred():
            catalogue = catalogue_of(request.modules)
            try:
                entries = catalogue.select(request.selectors)
                works = bibliography(catalogue.bibliographies)
            except (UnknownSelector, UnreadableBibliography) as exc:
                raise UsageError(str(exc)) from None
            try:
                folder = (
                    prepare(out, force=request.force, will_write=_run_file_names(entries))
                    if out is not None
                    else None
                )
            except FolderProblem as exc:
                raise UsageError(str(exc)) from None
        written = False
        index_home = index_home_of(out) if out is not None else None
        executor: Executor | None = None
        try:
            checkpoint()
            hooks = progress(sum(len(units) for units in _units(entries, profile)))
            settings = Settings(
                modules=tuple(str(Path(m).resolve()) for m in request.modules),
                profile=profile,
                device=str(device),
                seed=request.seed,
                # the run's key for the draws its searches share (a family's census),
                # when unseeded
                session=random.SystemRandom().randrange(2**32),
                threads=1,
                log_lines=hooks.log_lines,
            )
            try:
                executor = _executor(request, len(plan(entries, profile)), catalogue, hooks)
            except ExecutorUnavailable as exc:
                raise UsageError(str(exc)) from None
            _warn_hash_seeds(executor, request.seed)
            started = time.perf_counter()
            with hypothesis_storage(request.seed), hooks.display:
                results = _search(entries, settings, executor, hooks)
            document = build_results(
                results,
                profile=profile.name,
                settings=profile,
                device=device,
                seed=request.seed,
                seconds=time.perf_counter() - started,
                out=out,
                executor=executor.description,
                bibliography=cited(works, [k for r in results for k in r.claim.references]),
            )
            with deferred():  # from here on the run is written whole or not at all
                if folder is not None:
                    try:
                        _commit(folder, document)
                    except OSError as exc:
                        raise RunNotWritten(
                            f"--out {folder.path}: the run could not be written "
                            f"({exc.strerror or exc}); the folder keeps what it held"
                        ) from None
                    written = True
                if console:
                    settle()
                refresh_index(index_home)
        finally:
            # stopping the workers takes a moment: an interrupt then must not keep the
            # folder's lock from being released
            with deferred():
                try:
                    if executor is not None:
                        executor.close()
                finally:
                    if folder is not None:
                        folder.release(keep_created=written)
    return Run(document, folder=out, results=results)


def _run_file_names(entries: Sequence[Entry]) -> list[str]:
    """Every file a run of ``entries`` may write, relative to its folder."""
    from trajcheck.report.folder import COUNTEREXAMPLES, RUN_FILES
    from trajcheck.report.results import counterexample_name

    names = list(RUN_FILES)
    for entry in entries:
        claim = entry.claim
        for identifier in [claim.id, *(claim.mutant_id(m) for m in claim.mutants)]:
            names.append(f"{COUNTEREXAMPLES}/{counterexample_name(identifier)}")
    return names


def _executor(request: Request, planned: int, catalogue: Catalogue, hooks: Hooks) -> Executor:
    """Where the run's jobs go: a Dask cluster with a scheduler, else ``jobs`` worker
    processes (None: the cores), else this process: with one job, or one job to run,
    workers would only add their start."""
    from trajcheck.executors import DaskExecutor, InlineExecutor, ProcessExecutor, cores

    if request.scheduler is not None:
        return DaskExecutor(request.scheduler, request.jobs or cores())
    workers = min(request.jobs or cores(), planned)
    if workers <= 1:
        return InlineExecutor(catalogue, hooks.on_example)
    return ProcessExecutor(workers)


def _units(entries: Sequence[Entry], profile: Profile) -> list[list[Unit]]:
    """Every unit of work of a run, by model and search."""
    from trajcheck.work import units_of

    return [
        shards for e in entries for by_model in units_of(e, profile).values()
        for shards in by_model
    ]  # fmt: skip


#: The hash seed of a seeded run. Hypothesis labels parts of a draw by hash() of its
#: strategies' functions, and orders its shrinking by those labels; with Python's
#: randomized string hashing, one --seed gave 202 or 204 examples from one run to the
#: next. A seeded verify therefore runs with this hash seed (``cli.main``). It is the one
#: a Dask nanny gives the workers it starts (distributed.nanny, where 0 is replaced by
#: it), so that a cluster's workers hash as the run does without being told.
HASH_SEED = "6640"


def _warn_hash_seeds(executor: Executor, seed: int | None) -> None:
    """A seeded run shrinks alike only where the hash seed is fixed (``HASH_SEED``): a
    cluster's workers, started by someone else, are told of it in one line."""
    seeds = getattr(executor, "hash_seeds", None)
    if seed is not None and seeds is not None and seeds != {HASH_SEED}:
        print(
            "trajcheck: warning: the cluster's workers do not all run with PYTHONHASHSEED="
            f"{HASH_SEED}; a seeded run may then shrink its counterexamples differently "
            "(start them with that variable set)",
            file=sys.stderr,
        )


def _search(
    entries: Sequence[Entry], settings: Any, executor: Executor, hooks: Hooks
) -> list[Result]:
    """Every claim of ``entries``, spread over ``executor``."""
    from trajcheck.driver import run_entries

    results = run_entries(entries, settings, executor, hooks.on_units, hooks.on_claim)
    checkpoint()
    return results


def _commit(folder: Any, document: dict[str, Any]) -> None:
    from trajcheck.report import commit, renders, run_files

    commit(folder, run_files(document, renders(document)))


REPORTS = Path("reports")


def index_home_of(run: Path) -> Path | None:
    """Where the runs' index that lists ``run`` lives, if it has one: reports/ (the
    default home of runs), or the parent folder when it already has an index.html. Asked
    before a run is written (``--out .`` swaps the current folder)."""
    parent = run.resolve().parent
    if parent == REPORTS.resolve() or (parent / "index.html").exists():
        return parent
    return None


def refresh_index(home: Path | None) -> None:
    """Keep the runs' index in ``home`` up to date. A failure to do so is a warning: the
    run itself is written."""
    from trajcheck.report import write_index

    if home is None:
        return
    try:
        write_index(home)
    except OSError as exc:
        print(f"trajcheck: could not update {home / 'index.html'} ({exc})", file=sys.stderr)
