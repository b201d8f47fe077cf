"""The command line: ``trajcheck list | show | verify | replay | report | validate | diff |
index``.

Exit codes: 0 every verdict as expected, 1 some verdict not as expected, 2 a usage error
(unknown id, bad option, unreadable file, an --out folder that already holds a run).
A usage error prints one line on stderr and writes nothing.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from trajcheck.api import (
    HASH_SEED,
    MAX_JOBS,
    MAX_SEED,
    MAX_SWEEP,
    REPORTS,
    UsageError,
    catalogue_of,
    index_home_of,
    refresh_index,
)
from trajcheck.core import Result, census_sentence
from trajcheck.devices import DEVICES, DeviceUnavailable, resolve_device
from trajcheck.discovery import Catalogue, DiscoveryError, UnknownSelector
from trajcheck.interrupts import EXIT_CODE, STOPPED
from trajcheck.profiles import PROFILES, UnknownProfile, get_profile
from trajcheck.progress import shown

USAGE_ERROR = 2


class UsageProblem(click.ClickException):
    exit_code = USAGE_ERROR


def _fail(message: str) -> NoReturn:
    raise UsageProblem(message)


def _catalogue(modules: Sequence[str]) -> Catalogue:
    try:
        return catalogue_of(modules)
    except UsageError as exc:
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
            "statement": e.claim.statement,
            "latex": e.claim.latex,
            "references": list(e.claim.references),
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
    if c.references:
        click.echo(f"references:  {', '.join(c.references)}")
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


def _out_folder(out: str | None, profile: str) -> Path:
    """--out as a folder: refused when empty, the default when not given."""
    from trajcheck.api import out_folder

    if out is None:
        return _default_out(profile)
    try:
        return out_folder(out)
    except UsageError as exc:
        _fail(str(exc))


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


@cli.command()
@click.argument("selectors", nargs=-1, metavar="[ID|FAMILY]...")
@click.option(
    "--profile", default="default", show_default=True, help=f"One of {', '.join(PROFILES)}."
)
@click.option("--device", default="auto", show_default=True, help=f"One of {', '.join(DEVICES)}.")
@click.option(
    "--seed",
    type=click.IntRange(0, MAX_SEED),
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
    # a str, not a Path: Path("") is ".", and an empty --out must be refused, not taken
    # for the current folder
    type=click.Path(),
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
    out: str | None,
    force: bool,
    jobs: int | None,
    scheduler: str | None,
) -> None:
    """Search claims for violations and write results.json, report.md and report.html."""
    from trajcheck.api import Request, RunNotWritten, execute

    if scheduler is not None and scheduler != "local" and jobs is not None:
        _fail("--jobs with --scheduler ADDRESS: the cluster's workers set the parallelism")
    try:
        get_profile(profile)  # the default folder's name needs a known profile
    except UnknownProfile as exc:
        _fail(str(exc))
    request = Request(
        selectors=selectors,
        profile=profile,
        seed=seed,
        device=device,
        modules=modules,
        out=_out_folder(out, profile),
        force=force,
        sweep=sweep,
        jobs=jobs,
        scheduler=scheduler,
    )
    try:
        run = execute(request, shown, console=_console[0])
    except UsageError as exc:
        _fail(str(exc))
    except RunNotWritten as exc:
        click.echo(f"trajcheck: error: {exc}", err=True)
        sys.exit(1)
    assert run.results is not None and request.out is not None
    _print_verdicts(run.results, request.out)
    sys.exit(0 if run.as_expected else 1)


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
    refresh_index(index_home_of(folder))
    click.echo(f"rebuilt {', '.join(str(folder / name) for name in texts)}")


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--schemas", "show_schemas", is_flag=True, help="Print the schema files' paths.")
def validate(files: tuple[Path, ...], show_schemas: bool) -> None:
    """Check results.json and counterexample files against their JSON Schemas: one line
    a file; exit 2 when one does not conform."""
    from trajcheck.report.schema import check_file, schema_paths

    if show_schemas:
        for path in schema_paths():
            click.echo(str(path))
        return
    if not files:
        _fail("name at least one file (results.json or counterexamples/ID.json)")
    wrong = 0
    for file in files:
        line, conforms = check_file(file)
        click.echo(f"{file}: {line}")
        wrong += not conforms
    if wrong:
        sys.exit(USAGE_ERROR)


@cli.command("diff")
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@click.option(
    "--factor",
    type=click.FloatRange(min=1, min_open=True, max=1e300),
    default=10.0,
    show_default=True,
    help="Report a worst margin that moved by more than this factor.",
)
def diff_runs(run_a: Path, run_b: Path, as_json: bool, factor: float) -> None:
    """Compare two runs (folders or results.json files): verdicts, mutants, margins,
    counterexamples, environment. Exit 1 when a verdict got worse from RUN_A to RUN_B
    (an expected verdict lost, an error, a mutant no longer refuted), else 0."""
    from trajcheck.api import load
    from trajcheck.compare import diff

    try:
        runs = [load(run_a), load(run_b)]
        found = diff(*runs, factor=factor)
    except ValueError as exc:  # MalformedResults, or a factor that diff refuses
        _fail(str(exc))
    except RecursionError:
        _fail(f"{run_a} and {run_b}: nested too deeply to compare")
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2))
    else:
        click.echo(found.text(), nl=False)
    sys.exit(1 if found.worse else 0)


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
