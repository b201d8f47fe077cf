"""Two runs compared: ``trajcheck diff RUN_A RUN_B`` and :func:`diff`.

What changed from run A to run B, claim by claim:

- verdicts: a claim whose verdict or "as expected" changed; it got *worse* when it was as
  expected in A and is not in B, or when its verdict became ``error``;
- mutants: a mutant refuted in A that survives in B (worse: the claim's test lost its
  power), or the other way round;
- margins: a worst margin that moved by more than a factor (default 10). Margins are
  relative slacks; below the claim's own tolerance ``rtol`` they are rounding, so each
  is read as at least ``rtol`` in size, and a change of sign counts only beyond it;
- counterexamples: found, gone, or a different instance (parameters, both sides);
- claims that only one run has, and the environment (trajcheck, torch, Python,
  Hypothesis, device, profile and its settings, seed, executor).

A difference of the environment alone is never "worse": it explains the rest.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from trajcheck.api import Run

#: A margin moving by more than this factor is reported.
DEFAULT_FACTOR = 10.0

#: Fields that change from run to run whatever the results: when, how long, where the work
#: ran, and where the run was written (the replay commands name the folder).
UNCOMPARED = ("seconds", "created", "executor", "replay")


def comparable(value: Any) -> Any:
    """A results.json document (or any part of one) without ``UNCOMPARED`` fields: two
    runs with the same results, whatever their times, executor or folder, compare equal."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in UNCOMPARED}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


@dataclass
class RunDiff:
    """The differences between run ``a`` and run ``b`` (each a list of JSON-ready rows)."""

    a: str
    b: str
    factor: float
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    mutants: list[dict[str, Any]] = field(default_factory=list)
    margins: list[dict[str, Any]] = field(default_factory=list)
    counterexamples: list[dict[str, Any]] = field(default_factory=list)
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)
    environment: list[dict[str, Any]] = field(default_factory=list)
    #: claims whose entries differ in no way listed above (examples, a margin within the
    #: factor, a search's domain, ...)
    other: list[str] = field(default_factory=list)
    #: whether the two documents are equal but for ``UNCOMPARED`` fields
    same_results: bool = False

    @property
    def worse(self) -> bool:
        """Whether some verdict got worse from A to B (``trajcheck diff`` exits 1)."""
        return any(row["worse"] for row in self.verdicts + self.mutants)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "worse": self.worse}

    def text(self) -> str:
        """The differences for a terminal, one line each."""
        lines = [f"trajcheck diff: A = {self.a}", f"                B = {self.b}"]
        if self.same_results:
            lines.append("same results (times, executor and folder aside)")
        for row in self.verdicts:
            mark = "WORSE" if row["worse"] else "better" if row["better"] else "changed"
            lines.append(
                f"verdict  {mark:<7} {row['id']}: {_verdict(row['before'])} -> "
                f"{_verdict(row['after'])}"
            )
        for row in self.mutants:
            mark = "WORSE" if row["worse"] else "better"
            lines.append(f"mutant   {mark:<7} {row['id']}: {row['before']} -> {row['after']}")
        for row in self.margins:
            lines.append(
                f"margin  x{row['moved_by']:<7.3g} {row['id']}: {_margin(row['before'])} -> "
                f"{_margin(row['after'])}"
            )
        for row in self.counterexamples:
            lines.append(f"counterexample {row['change']:<7} {row['id']}: {row['detail']}")
        for identifier in self.only_in_a:
            lines.append(f"only in A {identifier}")
        for identifier in self.only_in_b:
            lines.append(f"only in B {identifier}")
        for row in self.environment:
            lines.append(f"environment {row['field']}: {row['before']} -> {row['after']}")
        if self.other:
            lines.append(
                "other differences (examples, margins within the factor, ...): "
                + ", ".join(self.other)
            )
        if len(lines) == 2:
            lines.append("no differences")
        lines.append("a verdict got worse" if self.worse else "no verdict got worse")
        return "\n".join(lines) + "\n"


def _verdict(state: dict[str, Any] | None) -> str:
    if state is None:
        return "-"
    return state["verdict"] + ("" if state["as_expected"] else " (NOT as expected)")


def _margin(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3e}"


def diff(a: Run, b: Run, *, factor: float = DEFAULT_FACTOR) -> RunDiff:
    """What changed from run ``a`` to run ``b`` (see the module's docstring)."""
    if not (factor > 1 and math.isfinite(factor)):
        raise ValueError(f"factor {factor!r}: a finite number above 1")
    result = RunDiff(_label(a), _label(b), factor)
    result.same_results = comparable(a.document) == comparable(b.document)
    before = {c["id"]: c for c in a.document["claims"]}
    after = {c["id"]: c for c in b.document["claims"]}
    result.only_in_a = [i for i in before if i not in after]
    result.only_in_b = [i for i in after if i not in before]
    for identifier, old in before.items():
        new = after.get(identifier)
        if new is None:
            continue
        listed = _count(result)
        _verdicts(result, old, new)
        _mutants(result, old, new)
        _margins(result, old, new)
        _counterexamples(result, old, new)
        if _count(result) == listed and comparable(old) != comparable(new):
            result.other.append(identifier)
    result.environment = _environment(a.document, b.document)
    return result


def _count(result: RunDiff) -> int:
    return sum(map(len, (result.verdicts, result.mutants, result.margins, result.counterexamples)))


def _label(run: Run) -> str:
    return str(run.folder) if run.folder is not None else "(a run in memory)"


def _verdicts(result: RunDiff, old: dict[str, Any], new: dict[str, Any]) -> None:
    states = [{"verdict": c["verdict"], "as_expected": c["as_expected"]} for c in (old, new)]
    if states[0] == states[1]:
        return
    worse = (old["as_expected"] and not new["as_expected"]) or (
        new["verdict"] == "error" and old["verdict"] != "error"
    )
    better = not worse and (not old["as_expected"] and new["as_expected"])
    result.verdicts.append(
        {"id": old["id"], "before": states[0], "after": states[1], "worse": worse,
         "better": better}
    )  # fmt: skip


def _refuted(mutant: dict[str, Any] | None) -> str:
    if mutant is None:
        return "absent"
    return "refuted" if mutant["verdict"] == "fails" else f"survives ({mutant['verdict']})"


def _mutants(result: RunDiff, old: dict[str, Any], new: dict[str, Any]) -> None:
    before = {m["id"]: m for m in old["mutants"]}
    after = {m["id"]: m for m in new["mutants"]}
    for identifier in [*before, *(i for i in after if i not in before)]:
        was, now = before.get(identifier), after.get(identifier)
        was_refuted = was is not None and was["verdict"] == "fails"
        now_refuted = now is not None and now["verdict"] == "fails"
        if was is None or now is None or was_refuted == now_refuted:
            continue
        result.mutants.append(
            {"id": identifier, "before": _refuted(was), "after": _refuted(now),
             "worse": was_refuted and not now_refuted}
        )  # fmt: skip


def _margins(result: RunDiff, old: dict[str, Any], new: dict[str, Any]) -> None:
    before, after = old.get("worst_margin"), new.get("worst_margin")
    if before is None or after is None:
        return
    floor = float(new.get("rtol") or old.get("rtol") or 0.0)
    size_before, size_after = max(abs(before), floor), max(abs(after), floor)
    if size_before == 0 or size_after == 0:
        return
    moved = max(size_before / size_after, size_after / size_before)
    flipped = min(abs(before), abs(after)) > floor and (before > 0) != (after > 0)
    if moved > result.factor or flipped:
        result.margins.append(
            {"id": old["id"], "before": before, "after": after, "moved_by": moved,
             "sign_changed": flipped}
        )  # fmt: skip


def _instance(found: dict[str, Any] | None) -> Any:
    if found is None:
        return None
    return comparable({k: found.get(k) for k in ("model", "params", "lhs", "rhs", "part")})


def _counterexamples(result: RunDiff, old: dict[str, Any], new: dict[str, Any]) -> None:
    old_mutants = {m["id"]: m for m in old["mutants"]}
    new_mutants = {m["id"]: m for m in new["mutants"]}
    pairs = [(old["id"], old, new)] + [
        (i, m, new_mutants[i]) for i, m in old_mutants.items() if i in new_mutants
    ]
    for identifier, was, now in pairs:
        found_before, found_after = was.get("counterexample"), now.get("counterexample")
        if _instance(found_before) == _instance(found_after):
            continue
        if found_before is None:
            change, detail = "new", _found(found_after)
        elif found_after is None:
            change, detail = "gone", f"was {_found(found_before)}"
        else:
            change = "changed"
            detail = f"{_found(found_before)} -> {_found(found_after)}"
        result.counterexamples.append(
            {"id": identifier, "change": change, "detail": detail, "before": found_before,
             "after": found_after}
        )  # fmt: skip


def _found(found: dict[str, Any] | None) -> str:
    if found is None:
        return "-"
    where = f" on {found['model']}" if found.get("model") else ""
    return f"dimension {found.get('dimension', '?')}{where}, margin {_margin(found.get('margin'))}"


#: The environment's fields compared, as (label, path into results.json).
ENVIRONMENT = (
    ("trajcheck", ("version",)),
    ("format", ("format",)),
    ("profile", ("profile",)),
    ("settings", ("settings",)),
    ("seed", ("seed",)),
    ("device", ("device",)),
    ("torch", ("environment", "torch")),
    ("python", ("environment", "python")),
    ("hypothesis", ("environment", "hypothesis")),
    ("machine", ("environment", "machine")),
    ("cuda", ("environment", "cuda")),
    ("executor", ("executor", "kind")),
)


def _at(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _environment(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for label, path in ENVIRONMENT:
        before, after = _at(a, path), _at(b, path)
        if before == after:
            continue
        if label == "settings" and isinstance(before, dict) and isinstance(after, dict):
            for key in sorted(set(before) | set(after)):
                if before.get(key) != after.get(key):
                    rows.append(
                        {"field": f"settings.{key}", "before": before.get(key),
                         "after": after.get(key)}
                    )  # fmt: skip
            continue
        rows.append({"field": label, "before": before, "after": after})
    return rows
