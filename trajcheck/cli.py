"""The command line: ``trajcheck list | show | verify | replay | report | index``.

Exit codes: 0 every verdict as expected, 1 some verdict not as expected, 2 a usage error
(unknown id, bad option, unreadable file, an --out folder that already holds a run).
A usage error prints one line on stderr and writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from trajcheck.core import Result, census_sentence
from trajcheck.devices import DEVICES, DeviceUnavailable, resolve_device
from trajcheck.discovery import Catalogue, DiscoveryError, Entry, UnknownSelector, discover
from trajcheck.interrupts import EXIT_CODE, STOPPED, checkpoint, deferred, settle, watching
from trajcheck.profiles import PROFILES, Profile, UnknownProfile, get_profile
from trajcheck.progress import log_progress_lines
from trajcheck.report.folder import RunFolder

if TYPE_CHECKING:
    from trajcheck.driver import Executor
    from trajcheck.work import Settings, Unit

USAGE_ERROR = 2


class UsageProblem(click.ClickException):
    exit_code = USAGE_ERROR


def _fail(message: str) -> NoReturn:
    raise UsageProblem(message)


def _catalogue(modules: Sequence[str]) -> Catalogue:
    try:
        return discover([Path(m) for m in modules])
    except DiscoveryError as exc:
        _fail(str(exc))


MODULE_OPTION = click.option(
    "--module",
    "modules",
    multiple=True,
    metavar="PATH",
    help="A local Python file with extra claims (repeatable).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trajcheck")
def cli() -> None:
    """Property-based verification of optimization claims about trajectory-aided reasoning."""


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
@click.option(
    "--markdown", "as_markdown", is_flag=True,
    help="Print the catalogue as a Markdown page: every claim in full.",
)  # fmt: skip
@MODULE_OPTION
def list_claims(as_json: bool, as_markdown: bool, modules: tuple[str, ...]) -> None:
    """List the claims: id, family, kind, expected verdict, title."""
    catalogue = _catalogue(modules)
    if as_json and as_markdown:
        _fail("--json and --markdown: choose one")
    if as_markdown:
        from trajcheck.catalogue_page import catalogue_markdown

        click.echo(catalogue_markdown(catalogue), nl=False)
        return
    rows = [
        {
            "id": e.claim.id,
            "family": e.claim.family,
            "kind": e.claim.kind,
            "expected": e.claim.expected,
            "title": e.claim.title,
            "models": [p.model for p in e.props],
            "mutants": [e.claim.mutant_id(m) for m in e.claim.mutants],
            "origins": e.origin_by_model,
        }
        for e in catalogue
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max((len(r["id"]) for r in rows), default=2)
    for r in rows:
        click.echo(
            f"{r['id']:<{width}}  {r['family']:<13} {r['kind']:<10} {r['expected']:<6} {r['title']}"
        )


@cli.command()
@click.argument("claim_id")
@MODULE_OPTION
def show(claim_id: str, modules: tuple[str, ...]) -> None:
    """Show one claim: statement, assumptions, source, tolerance, mutants."""
    catalogue = _catalogue(modules)
    if claim_id not in catalogue.entries:
        try:
            catalogue.select([claim_id])  # raises, naming the close matches, if unknown
        except UnknownSelector as exc:
            _fail(str(exc))
        _fail(f"{claim_id!r} is a family, not a claim; `trajcheck list` shows its claims")
    entry = catalogue.entries[claim_id]
    c = entry.claim
    click.echo(f"{c.id}: {c.title}\n")
    click.echo(f"statement:   {c.statement}")
    for i, assumption in enumerate(c.assumptions):
        click.echo(f"{'assumptions:' if i == 0 else '':<12} - {assumption}")
    click.echo(f"source:      {c.source} ({c.citation})")
    click.echo(f"kind:        {c.kind}, expected {c.expected}")
    click.echo(f"tolerance:   rtol {c.rtol:g}: {c.tolerance_note}")
    if c.search_note:
        click.echo(f"search:      {c.search_note}")
    if c.census_rule.max_failure > 0:
        click.echo(f"census rule: {c.census_rule.describe()}")
    for i, m in enumerate(c.mutants):
        click.echo(f"{'mutants:' if i == 0 else '':<12} - {c.mutant_id(m)}: {m.change}")
    for i, (model, origin) in enumerate(entry.origin_by_model.items()):
        click.echo(f"{'models:' if i == 0 else '':<12} - {model} ({origin})")


def _default_out(profile: str) -> Path:
    """reports/DATE-PROFILE, with a number added when a run has that name already (or is
    writing to it now)."""
    from trajcheck.report.folder import is_locked

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path("reports") / f"{stamp}-{profile}"
    n = 2
    while out.exists() or is_locked(out):
        out = Path("reports") / f"{stamp}-{profile}-{n}"
        n += 1
    return out


ProgressHooks = tuple[
    AbstractContextManager[Any],
    Callable[[str, int], None],
    Callable[[int], None],
    Callable[[Result], None],
]


def _progress(total: int) -> ProgressHooks:
    """How a run shows its progress: on a terminal, a bar (stderr) with one step per unit
    of work (``trajcheck.work``: one shard of one search, on whichever worker), and the
    running count of examples where the run searches in this process; elsewhere (a CI
    log, a tox log, a file), one line on stderr per claim as it finishes."""
    console = Console(stderr=True)
    if not console.is_terminal:
        log_progress_lines()
        claims = [0]

        def finished(result: Result) -> None:
            claims[0] += 1
            o = result.outcome
            verdict = o.verdict + ("" if result.as_expected else ", NOT as expected")
            click.echo(
                f"trajcheck: finished {result.claim.id}: {verdict}, {o.examples} examples, "
                f"{o.seconds:.1f} s",
                err=True,
            )

        return nullcontext(), lambda label, units: None, lambda count: None, finished
    progress = Progress(
        TextColumn("{task.description:<40}"),
        TextColumn("{task.fields[examples]:>9} examples"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("searching", total=total, examples=0)

    def advance(label: str, units: int) -> None:
        progress.update(task, advance=units, description=label, examples=0)

    def count(examples: int) -> None:
        progress.update(task, examples=examples)

    return progress, advance, count, lambda result: None


#: The largest --jobs: more worker processes than this on one machine is a typo.
MAX_JOBS = 1024

#: The largest --sweep: memory no longer grows with it, but time does (10^9 quadratics
#: take hours even on a GPU); a larger number is more likely a typo than a plan.
MAX_SWEEP = 10**9


@cli.command()
@click.argument("selectors", nargs=-1, metavar="[ID|FAMILY]...")
@click.option(
    "--profile", default="default", show_default=True, help=f"One of {', '.join(PROFILES)}."
)
@click.option("--device", default="auto", show_default=True, help=f"One of {', '.join(DEVICES)}.")
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=None,
    help="Seed for a reproducible search (the same results.json, times aside).",
)
@click.option(
    "--sweep",
    type=click.IntRange(0, MAX_SWEEP),
    default=None,
    help="Instances per model and seed for the batched sweep, at most 10^9 "
    f"[the profile's: {' | '.join(f'{p.sweep:,}' for p in PROFILES.values())}].",
)
@MODULE_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Report folder [reports/DATE-PROFILE].",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace the run an existing --out folder holds (files no run wrote are kept).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, MAX_JOBS),
    default=None,
    help="Worker processes on this machine, one torch thread each; 1 searches in this "
    "process [the cores this process may use].",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Run the work on the Dask cluster whose scheduler is at ADDRESS "
    "(tcp://host:8786), or on a local Dask cluster of --jobs workers (local). "
    "Needs trajcheck[cluster].",
)
def verify(
    selectors: tuple[str, ...],
    profile: str,
    device: str,
    seed: int | None,
    sweep: int | None,
    modules: tuple[str, ...],
    out: Path | None,
    force: bool,
    jobs: int | None,
    scheduler: str | None,
) -> None:
    """Search claims for violations and write results.json, report.md and report.html."""
    from trajcheck.executors import ExecutorUnavailable
    from trajcheck.report import FolderProblem, build_results, prepare
    from trajcheck.work import Settings, hypothesis_storage, plan

    try:
        chosen_profile = get_profile(profile)
        if sweep is not None:
            chosen_profile = dataclasses.replace(chosen_profile, sweep=sweep)
        torch_device = resolve_device(device)
    except (UnknownProfile, DeviceUnavailable) as exc:
        _fail(str(exc))
    if scheduler is not None and scheduler != "local" and jobs is not None:
        _fail("--jobs with --scheduler ADDRESS: the cluster's workers set the parallelism")
    with watching():
        # an interrupt while the catalogue is imported (torch's C++ cannot pass on an
        # exception raised in a callback) or while the folder is prepared is held until
        # that is done: the release of the folder is then sure
        with deferred():
            catalogue = _catalogue(modules)
            try:
                entries = catalogue.select(selectors)
            except UnknownSelector as exc:
                _fail(str(exc))
            out = out if out is not None else _default_out(chosen_profile.name)
            try:
                folder = prepare(out, force=force, will_write=_run_file_names(entries))
            except FolderProblem as exc:
                _fail(str(exc))
        written, index_home = False, _index_home(folder.path)
        executor: Executor | None = None
        try:
            checkpoint()
            settings = Settings(
                modules=tuple(str(Path(m).resolve()) for m in modules),
                profile=chosen_profile,
                device=str(torch_device),
                seed=seed,
                # the run's key for the draws its searches share (a family's census),
                # when unseeded
                session=random.SystemRandom().randrange(2**32),
                threads=1,
                log_lines=not Console(stderr=True).is_terminal,
            )
            hooks = _progress(sum(len(units) for units in _units(entries, chosen_profile)))
            try:
                executor = _executor(
                    jobs, scheduler, len(plan(entries, chosen_profile)), catalogue, hooks[2]
                )
            except ExecutorUnavailable as exc:
                _fail(str(exc))
            _warn_hash_seeds(executor, seed)
            with hypothesis_storage(seed):
                results, seconds = _search(entries, settings, executor, hooks)
            document = build_results(
                results,
                profile=chosen_profile.name,
                settings=chosen_profile,
                device=torch_device,
                seed=seed,
                seconds=seconds,
                out=out,
                executor=executor.description,
            )
            with deferred():  # from here on the run is written whole or not at all
                _commit(folder, document)
                written = True
                if _console[0]:
                    settle()
                _refresh_index(index_home)
                _print_verdicts(results, out)
        finally:
            # stopping the workers takes a moment: an interrupt then must not keep the
            # folder's lock from being released
            with deferred():
                try:
                    if executor is not None:
                        executor.close()
                finally:
                    folder.release(keep_created=written)
    sys.exit(0 if all(r.as_expected for r in results) else 1)


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


def _executor(
    jobs: int | None, scheduler: str | None, planned: int, catalogue: Catalogue,
    on_example: Callable[[int], None],
) -> Executor:  # fmt: skip
    """Where the run's jobs go: a Dask cluster with --scheduler, else --jobs worker
    processes (the cores, by default), else this process: with one job, or one job to
    run, workers would only add their start."""
    from trajcheck.executors import DaskExecutor, InlineExecutor, ProcessExecutor, cores

    if scheduler is not None:
        return DaskExecutor(scheduler, jobs or cores())
    workers = min(jobs or cores(), planned)
    if workers <= 1:
        return InlineExecutor(catalogue, on_example)
    return ProcessExecutor(workers)


def _units(entries: Sequence[Entry], profile: Profile) -> list[list[Unit]]:
    """Every unit of work of a run, by model and search."""
    from trajcheck.work import units_of

    return [
        shards for e in entries for by_model in units_of(e, profile).values()
        for shards in by_model
    ]  # fmt: skip


def _warn_hash_seeds(executor: Executor, seed: int | None) -> None:
    """A seeded run shrinks alike only where the hash seed is fixed (``HASH_SEED``): a
    cluster's workers, started by someone else, are told of it in one line."""
    seeds = getattr(executor, "hash_seeds", None)
    if seed is not None and seeds is not None and seeds != {HASH_SEED}:
        click.echo(
            "trajcheck: warning: the cluster's workers do not all run with PYTHONHASHSEED="
            f"{HASH_SEED}; a seeded run may then shrink its counterexamples differently "
            "(start them with that variable set)",
            err=True,
        )


def _search(
    entries: Sequence[Entry], settings: Settings, executor: Executor, hooks: ProgressHooks
) -> tuple[list[Result], float]:
    """Every claim of ``entries``, spread over ``executor``, with a progress display."""
    from trajcheck.driver import run_entries

    display, advance, _, finished = hooks
    started = time.perf_counter()
    with display:
        results = run_entries(entries, settings, executor, advance, finished)
    checkpoint()
    return results, time.perf_counter() - started


def _commit(folder: RunFolder, document: dict[str, Any]) -> None:
    from trajcheck.report import commit, renders, run_files

    commit(folder, run_files(document, renders(document)))


def _print_verdicts(results: Sequence[Result], out: Path) -> None:
    from trajcheck.report import summary

    for result in results:
        o = result.outcome
        mark = "ok" if result.as_expected else "UNEXPECTED"
        refuted = sum(m.outcome.verdict == "fails" for m in result.mutants)
        mutants = f", mutants refuted {refuted}/{len(result.mutants)}" if result.mutants else ""
        found = o.counterexample
        if found:
            detail = f", counterexample in dimension {found.dimension}"
            detail += f" ({summary.notes(found.notes)})" if found.notes else ""
        else:
            detail = f", worst margin {summary.margin(o.worst_margin)}"
        click.echo(
            f"{o.verdict:<6} {mark:<10} {result.claim.id:<28} {o.examples:>7} "
            + (_census_count(o.census) if o.census else "examples")
            + (f" (+{o.swept} swept" if o.swept else "")
            + (f", {o.swept_violations} violate" if o.swept and o.swept_violations else "")
            + (")" if o.swept else "")
            + f"{detail}{mutants}"
        )
        if o.domain:
            click.echo(f"       searched: {summary.domain_text(o.domain, notes=1)}")
        if o.error:
            click.echo(f"       error: {o.error}")
    click.echo(f"report: {out / 'report.md'} and {out / 'report.html'}")


def _census_count(census: dict[str, Any]) -> str:
    return f"instances (census: {census_sentence(census)})"


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--device", default="cpu", show_default=True, help=f"One of {', '.join(DEVICES)}.")
@MODULE_OPTION
def replay(file: Path, device: str, modules: tuple[str, ...]) -> None:
    """Re-run a saved counterexample and print both sides.

    Only claims that are installed (entry points) or named with --module here are
    loaded: a counterexample file never makes trajcheck import code.
    """
    from trajcheck.replay import MalformedCounterexample
    from trajcheck.replay import replay as run_replay

    try:
        done = run_replay(file, resolve_device(device), [Path(m) for m in modules])
    except (MalformedCounterexample, DiscoveryError, DeviceUnavailable) as exc:
        _fail(str(exc))
    e, recorded = done.evaluation, done.recorded
    name = done.claim.mutant_id(done.mutant) if done.mutant else done.claim.id
    click.echo(f"{name}: {done.claim.statement}")
    if done.mutant:
        click.echo(f"mutant: {done.mutant.change}")
    if e.part:
        click.echo(f"part:   {e.part}")
    click.echo(f"lhs:    {e.lhs!r}   (recorded {recorded['lhs']!r})")
    click.echo(f"rhs:    {e.rhs!r}   (recorded {recorded['rhs']!r})")
    click.echo(f"margin: {e.margin:+.6e} (rtol {done.claim.rtol:g})")
    for key, value in e.notes.items():
        click.echo(f"{key}: {value!r}")
    if not e.finite:
        click.echo(f"not finite on replay: {e.problem}")
    elif done.rounding:
        click.echo("violated only within rounding (moved by as much a few ulps away)")
    click.echo("violated" if done.violated else "not violated on replay")
    sys.exit(0 if done.violated else 1)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
def report(folder: Path) -> None:
    """Rebuild report.md, report.html and summary.csv from FOLDER/results.json."""
    from trajcheck.report import FolderProblem, MalformedResults, load_results, renders
    from trajcheck.report.folder import locked, record_files, write_text_atomically

    if not folder.is_dir():
        _fail(f"{folder}: no such folder")
    try:
        with locked(folder):
            document = load_results(folder)
            try:
                texts = renders(document)
            except Exception as exc:  # a document the schema allows but the renderer cannot
                raise MalformedResults(
                    f"{folder / 'results.json'}: cannot be rendered ({type(exc).__name__}: {exc})"
                ) from exc
            for name, text in texts.items():
                write_text_atomically(folder / name, text)
            record_files(folder, texts)
    except (MalformedResults, FolderProblem) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{folder}: cannot write the report ({exc.strerror or exc})")
    _refresh_index(_index_home(folder))
    click.echo(f"rebuilt {', '.join(str(folder / name) for name in texts)}")


REPORTS = Path("reports")


def _index_home(run: Path) -> Path | None:
    """Where the runs' index that lists ``run`` lives, if it has one: reports/ (the
    default home of runs), or the parent folder when it already has an index.html. Asked
    before a run is written (``--out .`` swaps the current folder)."""
    parent = run.resolve().parent
    if parent == REPORTS.resolve() or (parent / "index.html").exists():
        return parent
    return None


def _refresh_index(home: Path | None) -> None:
    """Keep the runs' index in ``home`` up to date. A failure to do so is a warning: the
    run itself is written."""
    from trajcheck.report import write_index

    if home is None:
        return
    try:
        write_index(home)
    except OSError as exc:
        click.echo(f"trajcheck: could not update {home / 'index.html'} ({exc})", err=True)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path), default=REPORTS)
def index(folder: Path) -> None:
    """Write FOLDER/index.html: every run under FOLDER [reports], newest first."""
    from trajcheck.report import write_index

    if not folder.is_dir():
        _fail(f"{folder}: no such folder")
    try:
        written = write_index(folder)
    except OSError as exc:
        _fail(f"{folder}: cannot write index.html ({exc.strerror or exc})")
    click.echo(f"index: {written}")


#: Whether this process runs the console script (not a call from Python): only then may
#: a run leave SIGINT ignored once it is written (``interrupts.settle``).
_console = [False]

#: The hash seed of a seeded run. Hypothesis labels parts of a draw by hash() of its
#: strategies' functions, and orders its shrinking by those labels; with Python's
#: randomized string hashing, one --seed gave 202 or 204 examples from one run to the
#: next. A seeded verify therefore runs with this hash seed (see main). It is the one a
#: Dask nanny gives the workers it starts (distributed.nanny, where 0 is replaced by it),
#: so that a cluster's workers hash as the run does without being told.
HASH_SEED = "6640"


def _seeded_verify(args: Sequence[str]) -> bool:
    command = next((a for a in args if not a.startswith("-")), None)
    return command == "verify" and any(a == "--seed" or a.startswith("--seed=") for a in args)


def _pin_hash_seed(args: Sequence[str]) -> None:
    """Re-run this command with PYTHONHASHSEED fixed when it is a seeded verify and the
    hash seed is not fixed already (the same process id: signals still reach it)."""
    if os.environ.get("PYTHONHASHSEED") == HASH_SEED or not _seeded_verify(args):
        return
    environment = {**os.environ, "PYTHONHASHSEED": HASH_SEED}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "trajcheck", *args], environment)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: one line on stderr for a usage error, exit code 2.

    Called with ``argv`` (from Python), it runs in this process as it is; called without
    (by the console script, ``trajcheck.__main__``), a seeded verify first fixes the hash
    seed (``_pin_hash_seed``).
    """
    if argv is None:
        _pin_hash_seed(sys.argv[1:])
        _console[0] = True
    try:
        code = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.ClickException as exc:
        click.echo(f"trajcheck: error: {exc.format_message()}", err=True)
        return USAGE_ERROR
    except (click.Abort, KeyboardInterrupt):
        click.echo(STOPPED, err=True)
        return EXIT_CODE
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return int(code or 0)
