"""The command line: ``trajcheck list | show | verify | replay | report | index``.

Exit codes: 0 every verdict as expected, 1 some verdict not as expected, 2 a usage error
(unknown id, bad option, unreadable file, an --out folder that already holds a run).
A usage error prints one line on stderr and writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from trajcheck.core import Result
from trajcheck.devices import DEVICES, DeviceUnavailable, resolve_device
from trajcheck.discovery import Catalogue, DiscoveryError, UnknownSelector, discover
from trajcheck.profiles import PROFILES, UnknownProfile, get_profile

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
@MODULE_OPTION
def list_claims(as_json: bool, modules: tuple[str, ...]) -> None:
    """List the claims: id, family, kind, expected verdict, title."""
    catalogue = _catalogue(modules)
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
    for i, m in enumerate(c.mutants):
        click.echo(f"{'mutants:' if i == 0 else '':<12} - {c.mutant_id(m)}: {m.change}")
    for i, (model, origin) in enumerate(entry.origin_by_model.items()):
        click.echo(f"{'models:' if i == 0 else '':<12} - {model} ({origin})")


def _default_out(profile: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path("reports") / f"{stamp}-{profile}"
    n = 2
    while out.exists():
        out = Path("reports") / f"{stamp}-{profile}-{n}"
        n += 1
    return out


def _progress(
    total: int,
) -> tuple[AbstractContextManager[Any], Callable[[str], None], Callable[[int], None]]:
    """A progress bar on a terminal (stderr): one step per search, with the running count
    of examples of the current one; silence elsewhere."""
    console = Console(stderr=True)
    if not console.is_terminal:
        return nullcontext(), lambda label: None, lambda count: None
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
    started = [False]

    def advance(label: str) -> None:
        if started[0]:
            progress.advance(task)
        started[0] = True
        progress.update(task, description=label, examples=0)

    def count(examples: int) -> None:
        progress.update(task, examples=examples)

    return progress, advance, count


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
    help="Seed for a reproducible search.",
)
@click.option(
    "--sweep",
    type=click.IntRange(0, None),
    default=None,
    help="Instances per claim for the batched sweep [the profile's: 10^4 | 10^5 | 10^6].",
)
@MODULE_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Report folder [reports/DATE-PROFILE].",
)
@click.option("--force", is_flag=True, help="Replace the run an existing --out folder holds.")
def verify(
    selectors: tuple[str, ...],
    profile: str,
    device: str,
    seed: int | None,
    sweep: int | None,
    modules: tuple[str, ...],
    out: Path | None,
    force: bool,
) -> None:
    """Search claims for violations and write results.json, report.md and report.html."""
    from trajcheck.report import build_results, holds_a_run, renders, summary, write_run
    from trajcheck.runner import run_claim

    try:
        chosen_profile = get_profile(profile)
        if sweep is not None:
            chosen_profile = dataclasses.replace(chosen_profile, sweep=sweep)
        torch_device = resolve_device(device)
    except (UnknownProfile, DeviceUnavailable) as exc:
        _fail(str(exc))
    catalogue = _catalogue(modules)
    try:
        entries = catalogue.select(selectors)
    except UnknownSelector as exc:
        _fail(str(exc))
    out = out if out is not None else _default_out(chosen_profile.name)
    if out.exists() and not out.is_dir():
        _fail(f"--out {out}: exists and is not a folder")
    if holds_a_run(out) and not force:
        _fail(
            f"--out {out} already holds a run; pass --force to replace it, or choose another folder"
        )

    searches = sum(1 + len(e.claim.mutants) for e in entries)
    display, advance, count = _progress(searches)
    results: list[Result] = []
    started = time.perf_counter()
    with display:
        for entry in entries:
            results.append(
                run_claim(
                    entry.props,
                    entry.origin_by_model,
                    chosen_profile,
                    torch_device,
                    seed,
                    advance,
                    count,
                )
            )
    document = build_results(
        results,
        profile=chosen_profile.name,
        device=torch_device,
        seed=seed,
        seconds=time.perf_counter() - started,
        out=out,
    )
    write_run(out, document, renders(document))
    _refresh_index(out)
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
            + (f" (+{o.swept} swept)" if o.swept else "")
            + f"{detail}{mutants}"
        )
        if o.error:
            click.echo(f"       error: {o.error}")
    click.echo(f"report: {out / 'report.md'} and {out / 'report.html'}")
    sys.exit(0 if all(r.as_expected for r in results) else 1)


def _census_count(census: dict[str, Any]) -> str:
    failed = sum(entry["violated"] for entry in census["instances"])
    return f"instances (census: fails on {failed})"


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--device", default="cpu", show_default=True, help=f"One of {', '.join(DEVICES)}.")
def replay(file: Path, device: str) -> None:
    """Re-run a saved counterexample and print both sides."""
    from trajcheck.replay import MalformedCounterexample
    from trajcheck.replay import replay as run_replay

    try:
        done = run_replay(file, resolve_device(device))
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
    click.echo("violated" if done.violated else "not violated on replay")
    sys.exit(0 if done.violated else 1)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
def report(folder: Path) -> None:
    """Rebuild report.md and report.html from FOLDER/results.json."""
    from trajcheck.report import MalformedResults, load_results, renders

    try:
        document = load_results(folder)
        texts = renders(document)
    except MalformedResults as exc:
        _fail(str(exc))
    except (KeyError, TypeError, ValueError) as exc:
        _fail(f"{folder}/results.json: malformed ({type(exc).__name__}: {exc})")
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    _refresh_index(folder)
    click.echo(f"rebuilt {', '.join(str(folder / name) for name in texts)}")


REPORTS = Path("reports")


def _refresh_index(run: Path) -> None:
    """Keep the runs' index up to date where there is one: in reports/ (the default home
    of runs), or in any folder that already has an index.html."""
    from trajcheck.report import write_index

    parent = run.resolve().parent
    if parent == REPORTS.resolve() or (parent / "index.html").exists():
        write_index(parent)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path), default=REPORTS)
def index(folder: Path) -> None:
    """Write FOLDER/index.html: every run under FOLDER [reports], newest first."""
    from trajcheck.report import write_index

    if not folder.is_dir():
        _fail(f"{folder}: no such folder")
    click.echo(f"index: {write_index(folder)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: one line on stderr for a usage error, exit code 2."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.ClickException as exc:
        click.echo(f"trajcheck: error: {exc.format_message()}", err=True)
        return USAGE_ERROR
    except (click.Abort, KeyboardInterrupt):
        click.echo("trajcheck: interrupted; nothing was written", err=True)
        return 130
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return int(code or 0)
