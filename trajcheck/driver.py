"""The driver of a run: every job of ``trajcheck.work`` submitted to an executor, the
units merged in the claim's order as they come back, the moot ones cancelled, and each
claim assembled once everything it depends on is in (its order of arrival changes no
result)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from trajcheck.core import Mutant, Outcome, Result
from trajcheck.discovery import Entry
from trajcheck.interrupts import checkpoint
from trajcheck.runner import Finish, assemble, merge_models, merge_shards
from trajcheck.work import (
    ClaimParts,
    FamilyJob,
    FinishJob,
    Job,
    SearchJob,
    Settings,
    Unit,
    mutant_of,
    plan,
    units_of,
)

log = logging.getLogger("trajcheck")


# -- executors ------------------------------------------------------------------------


class Executor(Protocol):
    """Where jobs run: in this process, in worker processes, or on a Dask cluster."""

    #: how the run was spread, recorded in results.json
    description: dict[str, Any]

    def submit(self, settings: Settings, job: Job) -> object: ...

    def completed(self, timeout: float) -> list[tuple[object, Any]]:
        """Jobs finished since the last call: (handle, result), the result an exception
        where the job raised or its worker was lost. Waits up to ``timeout`` seconds for
        the first."""
        ...

    def cancel(self, handle: object) -> None: ...

    def close(self) -> None: ...


class WorkerLost(Exception):
    """A job's worker died or went away before it answered (the reason in words)."""


def lost_outcome(label: str, reason: str) -> Outcome:
    """The ``error`` outcome of a unit that never came back."""
    return Outcome(
        verdict="error",
        examples=0,
        worst_margin=None,
        worst_notes={},
        worst_params=None,
        counterexample=None,
        error=f"{label}: {reason}",
        seconds=0.0,
    )


def _reason(value: BaseException) -> str:
    if isinstance(value, WorkerLost):
        return str(value)
    return f"the job raised {type(value).__name__}: {value}"


# -- the driver -----------------------------------------------------------------------


def _model_outcome(shards: Sequence[Unit], outcomes: Mapping[Unit, Outcome]) -> Outcome | None:
    """A model's merged outcome, once the shards it depends on are in (None before)."""
    runs = []
    for unit in shards:
        outcome = outcomes.get(unit)
        if outcome is None:
            return None
        runs.append(outcome)
        if outcome.verdict != "holds":
            break
    return merge_shards(shards[0].model, runs)


def _search_outcome(
    shards_by_model: Sequence[Sequence[Unit]],
    mutant: Mutant | None,
    outcomes: Mapping[Unit, Outcome],
) -> Outcome | None:
    """A search's merged outcome, as the sequential runner would give it, once every unit
    it depends on is in (None before)."""
    per_model = []
    for shards in shards_by_model:
        outcome = _model_outcome(shards, outcomes)
        if outcome is None:
            return None
        per_model.append((shards[0].model, outcome))
        if mutant is not None and outcome.verdict == "fails":
            break
    return merge_models(per_model, mutant)


def _needed(
    shards_by_model: Sequence[Sequence[Unit]],
    mutant: Mutant | None,
    outcomes: Mapping[Unit, Outcome],
) -> set[Unit]:
    """The units whose outcome may still count: not those after a shard known to violate,
    nor (for a mutant) the models after one known to refute it."""
    needed: set[Unit] = set()
    for shards in shards_by_model:
        for unit in shards:
            needed.add(unit)
            outcome = outcomes.get(unit)
            if outcome is not None and outcome.verdict != "holds":
                break
        if mutant is not None:
            merged = _model_outcome(shards, outcomes)
            if merged is not None and merged.verdict == "fails":
                break
    return needed


@dataclass
class _ClaimState:
    entry: Entry
    searches: dict[str | None, list[list[Unit]]]
    merged: dict[str | None, Outcome] = field(default_factory=dict)
    finish: Finish | None = None
    result: Result | None = None

    def mutant(self, search: str | None) -> Mutant | None:
        return mutant_of(self.entry, search)

    @property
    def units(self) -> int:
        return sum(len(s) for by_model in self.searches.values() for s in by_model)


#: How a run reports its progress: a finished or skipped unit (its label and how many),
#: and a finished claim.
OnUnits: TypeAlias = Callable[[str, int], None]
OnClaim: TypeAlias = Callable[[Result], None]


class _Driver:
    def __init__(
        self, entries: Sequence[Entry], settings: Settings, executor: Executor,
        on_units: OnUnits, on_claim: OnClaim,
    ) -> None:  # fmt: skip
        self.settings, self.executor = settings, executor
        self.on_units, self.on_claim = on_units, on_claim
        self.claims = {e.claim.id: _ClaimState(e, units_of(e, settings.profile)) for e in entries}
        self.outcomes: dict[Unit, Outcome] = {}
        self.running: dict[object, Job] = {}
        self.unit_handles: dict[Unit, object] = {}

    def submit(self, job: Job) -> None:
        handle = self.executor.submit(self.settings, job)
        self.running[handle] = job
        if isinstance(job, SearchJob):
            self.unit_handles[job.unit] = handle

    def run(self) -> list[Result]:
        jobs = plan([s.entry for s in self.claims.values()], self.settings.profile)
        # the longest first: a family of training runs is minutes in one job, and started
        # last it would leave the other workers idle at the end (the order changes no
        # result)
        for job in sorted(jobs, key=lambda job: not isinstance(job, FamilyJob)):
            self.submit(job)
        while self.running:
            checkpoint()
            for handle, value in self.executor.completed(timeout=0.25):
                if handle in self.running:  # else cancelled as moot, but it ran
                    self.done(self.running.pop(handle), value)
        results = [s.result for s in self.claims.values()]
        assert all(r is not None for r in results), "a claim was never assembled"
        return results  # type: ignore[return-value]

    def done(self, job: Job, value: Any) -> None:
        failed = isinstance(value, BaseException)
        if isinstance(job, SearchJob):
            unit = job.unit
            self.unit_handles.pop(unit, None)
            if failed:
                log.warning("%s: %s", unit.label, _reason(value))
            self.outcomes[unit] = lost_outcome(unit.label, _reason(value)) if failed else value
            self.on_units(unit.label, 1)
            self.settle(self.claims[unit.claim])
        elif isinstance(job, FinishJob):
            state = self.claims[job.claim]
            if failed:
                log.warning("%s (finishing): %s", job.claim, _reason(value))
                outcome = state.merged[None]
                outcome.verdict = "error"
                reason = f"finishing (frontier, certificates, study): {_reason(value)}"
                outcome.error = "; ".join(e for e in (outcome.error, reason) if e)
                value = Finish(None, None, [], None)
            state.finish = value
            self.complete(state)
        else:
            for claim_id in job.claims:
                state = self.claims[claim_id]
                if failed:
                    log.warning("%s: %s", claim_id, _reason(value))
                    for search in state.searches:
                        state.merged[search] = lost_outcome(claim_id, _reason(value))
                    state.finish = Finish(None, None, [], None)
                else:
                    parts: ClaimParts = value[claim_id]
                    state.merged[None], state.finish = parts.outcome, parts.finish
                    mutants = list(state.searches)[1:]
                    state.merged.update(zip(mutants, parts.mutants, strict=True))
                self.on_units(claim_id, state.units)
                self.complete(state)

    def settle(self, state: _ClaimState) -> None:
        """Merge what can be merged, cancel the units that no longer count, and start the
        claim's finish once its own search is merged."""
        for search, shards_by_model in state.searches.items():
            if search in state.merged:
                continue
            mutant = state.mutant(search)
            needed = _needed(shards_by_model, mutant, self.outcomes)
            for shards in shards_by_model:
                for unit in shards:
                    handle = self.unit_handles.get(unit)
                    if unit not in needed and handle is not None:
                        self.executor.cancel(handle)
                        del self.running[handle], self.unit_handles[unit]
                        self.on_units(unit.label, 1)
            merged = _search_outcome(shards_by_model, mutant, self.outcomes)
            if merged is not None:
                state.merged[search] = merged
                if search is None:
                    self.submit(FinishJob(state.entry.claim.id, merged))
        self.complete(state)

    def complete(self, state: _ClaimState) -> None:
        if state.result is not None or state.finish is None:
            return
        if len(state.merged) < len(state.searches):
            return
        entry = state.entry
        mutants = [state.merged[s] for s in list(state.searches)[1:]]
        state.result = assemble(
            entry.claim, state.merged[None], state.finish, mutants, entry.origin_by_model
        )
        self.on_claim(state.result)


def run_entries(
    entries: Sequence[Entry],
    settings: Settings,
    executor: Executor,
    on_units: OnUnits = lambda label, count: None,
    on_claim: OnClaim = lambda result: None,
) -> list[Result]:
    """Run every claim of ``entries`` on ``executor``; their results in catalogue order.
    ``on_units`` hears every unit that finished or was skipped, ``on_claim`` every claim as
    it is complete."""
    return _Driver(entries, settings, executor, on_units, on_claim).run()
