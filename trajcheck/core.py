"""The engine's small core: the types that theory, models and properties share.

A *claim* is a statement as data. A *property* binds a claim to a model: a Hypothesis
strategy that draws one instance as JSON-ready parameters, and a measure that evaluates
both sides of the claim's inequality for a batch of instances (first dimension = batch).
A *result* is what the runner concludes about a claim and its mutants.

Margin convention (used by the runner, the reports and the tests alike): an inequality
``lhs <= rhs`` is violated when

    lhs - rhs > claim.rtol * max(|rhs|, scale),

where ``scale`` is the instance's numerical scale (the size of the terms the measure
rounds before any cancellation; none when the measure gives none); an identity
``lhs == rhs`` when |lhs - rhs| exceeds the same amount. So the margin a verdict reads is

    tolerated margin = (rhs - lhs) / max(|rhs|, scale)      (-|lhs - rhs| / ... for an identity)

and it is the one reported as a claim's worst margin. A counterexample also gives the
plain margin (rhs - lhs) / |rhs| beside its two sides. ``trajcheck.evaluation`` applies
the rule; a violation must also survive its check against rounding there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the core stays importable without torch, so theory/ stays framework-free
    import torch
    from hypothesis.strategies import SearchStrategy

Kind = Literal["theorem", "identity", "conjecture"]
Expected = Literal["holds", "fails", "open"]
Verdict = Literal["holds", "fails", "error"]
Source = Literal["summary", "paper", "established"]

KINDS: tuple[str, ...] = ("theorem", "identity", "conjecture")
EXPECTED: tuple[str, ...] = ("holds", "fails", "open")
SOURCES: tuple[str, ...] = ("summary", "paper", "established")

#: Denominator floor for a margin when the measure gives no scale of its own.
TINY = 1e-300

#: JSON-ready parameters of one instance: floats, ints and (nested) lists of floats.
Params = dict[str, Any]
#: The same parameters as tensors with a leading batch dimension.
Batch = dict[str, "torch.Tensor"]


@dataclass(frozen=True)
class Profile:
    """What a run spends, handed whole to the catalogue: the number of examples and the
    size of the instances its strategies and sweeps draw.

    A family whose budget is not a size (a training run's steps, the width of a network)
    reads it from the profile (by ``name``, or from the sizes) and writes the numbers it
    chose into each instance, so that an instance says by itself how it was built.
    """

    name: str = "custom"
    #: examples per claim: a true theorem must survive this many
    examples: int = 300
    #: examples per mutant: each must be refuted within this many
    mutant_examples: int = 300
    max_dimension: int = 8
    max_steps: int = 16
    #: instances per claim for the batched sweep, where a model has one (0: none)
    sweep: int = 0
    description: str = ""
    #: independent searches per model, each with its own seed (derived from the run's),
    #: their outcomes merged: the examples and sweep above are per seed
    seeds: int = 1


@dataclass(frozen=True)
class Mutant:
    """A deliberately wrong copy of a claim: one constant moved just past the truth.

    ``constants`` override the claim's own; the measure reads them, so the mutant is
    checked by exactly the same code as the claim.
    """

    name: str
    change: str
    constants: Mapping[str, float]


@dataclass(frozen=True)
class CensusRule:
    """How a census's count of failing instances decides its verdict: fixed beside the
    claim, before any run.

    With f failures among n instances drawn independently, the claim holds when the upper
    end of the ``confidence`` Wilson score interval of the failure proportion is at most
    ``max_failure``: at that confidence, the claim fails on at most that fraction of the
    instances its distribution draws. ``max_failure = 0`` is the strict reading: one
    failing instance refutes the claim (an interval's upper end is never 0).
    """

    max_failure: float = 0.0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_failure < 1.0:
            raise ValueError(f"max_failure must lie in [0, 1), got {self.max_failure}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must lie in (0, 1), got {self.confidence}")

    def describe(self) -> str:
        if self.max_failure == 0.0:
            return "strict: one failing instance refutes the claim"
        return (
            f"holds when the upper end of the {100 * self.confidence:g} % Wilson interval of "
            f"the failure proportion is at most {self.max_failure:g}"
        )


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2g}" if fraction < 0.1 else f"{100 * fraction:.0f}"


def census_sentence(census: Mapping[str, Any]) -> str:
    """'fails on 3 of 32 instances (9.4 %, 95 % Wilson interval 3.2-24 %)'."""
    count = census.get("count", len(census.get("instances", [])))
    failures = census.get("failures", sum(e["violated"] for e in census.get("instances", [])))
    text = f"fails on {failures} of {count} instances"
    if census.get("interval"):
        low, high = census["interval"]
        text += (
            f" ({_percent(failures / count)} %, {_percent(census['confidence'])} % Wilson "
            f"interval {_percent(low)}-{_percent(high)} %)"
        )
    return text


@dataclass(frozen=True)
class Claim:
    """A statement as data: what is claimed, under which assumptions, from where."""

    id: str
    title: str
    statement: str
    assumptions: tuple[str, ...]
    source: Source
    citation: str
    kind: Kind
    expected: Expected
    rtol: float
    tolerance_note: str
    constants: Mapping[str, float] = field(default_factory=dict)
    mutants: tuple[Mutant, ...] = ()
    search_note: str = ""
    #: for a claim read off a census (``Property.census``): how its count decides
    census_rule: CensusRule = field(default_factory=CensusRule)
    #: the statement's mathematics in LaTeX (the subset matplotlib's mathtext reads;
    #: ``\\`` separates lines), drawn in report.html beside the plain ``statement``
    latex: str = ""
    #: the BibTeX keys of the works the claim comes from, in ``trajcheck/references.bib``
    #: (or a third party's own file, ``Entry.references``)
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if "." not in self.id:
            raise ValueError(f"claim id {self.id!r} must read FAMILY.NAME")
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: kind {self.kind!r} is not one of {KINDS}")
        if self.expected not in EXPECTED:
            raise ValueError(f"claim {self.id}: expected {self.expected!r} not in {EXPECTED}")
        if self.source not in SOURCES:
            raise ValueError(f"claim {self.id}: source {self.source!r} not in {SOURCES}")
        if not self.rtol > 0:
            raise ValueError(f"claim {self.id}: rtol must be positive")
        for mutant in self.mutants:
            unknown = set(mutant.constants) - set(self.constants)
            if unknown:
                raise ValueError(f"mutant {self.mutant_id(mutant)} sets unknown {unknown}")

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    def mutant_id(self, mutant: Mutant) -> str:
        return f"{self.id}~{mutant.name}"

    def constants_for(self, mutant: Mutant | None) -> dict[str, float]:
        merged = dict(self.constants)
        if mutant is not None:
            merged.update(mutant.constants)
        return merged


@dataclass
class Measurement:
    """Both sides of a claim for a batch of instances.

    ``lhs`` and ``rhs`` have shape (B,) for one inequality, or (B, m) for m inequalities
    that must all hold (``parts`` names them). ``scale`` (shape (B,), or (B, m) for one per
    part) is the size of the terms the measure rounds; ``notes`` are per-instance scalars
    worth reporting (a*L).
    """

    lhs: torch.Tensor
    rhs: torch.Tensor
    scale: torch.Tensor | None = None
    parts: tuple[str, ...] = ()
    notes: dict[str, torch.Tensor] = field(default_factory=dict)


Measure = Callable[[Batch, Mapping[str, float]], "Measurement"]


@dataclass(frozen=True)
class Frontier:
    """A scalar parameter of the instances (a step size) whose boundary between holding
    and failing the runner locates, by bisection from a counterexample.

    ``safe`` gives, for the counterexample's instance, a value of ``parameter`` at which
    the claim holds; ``report`` turns a value into the number shown (a -> a*L).
    """

    parameter: str
    label: str
    safe: Callable[[Params], float]
    report: Callable[[Params, float], float]


@dataclass(frozen=True)
class Certificate:
    """A bound certified by a numerical method, beside the closed form it certifies.

    ``value`` is what the method certifies (a performance-estimation SDP's worst case),
    ``theoretical`` the claim's closed form at the same ``parameters`` (L, mu, a, K, ...);
    ``observed`` what the search saw there (its tightest ratio); ``figure`` optional
    worst-case data to draw (figure JSON, as in a Study: the worst-case trajectory, the
    worst function's values). The reports draw every certificate the same way, whatever
    claim it is for.
    """

    title: str
    method: str
    value: float
    theoretical: float
    parameters: Mapping[str, float]
    observed: Mapping[str, float | None] = field(default_factory=dict)
    model: str = ""
    figure: dict[str, Any] | None = None
    caption: str = ""

    @property
    def relative_gap(self) -> float:
        """|value - theoretical| / |theoretical| (the absolute gap when theoretical is 0)."""
        return abs(self.value - self.theoretical) / (abs(self.theoretical) or 1.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "method": self.method,
            "model": self.model,
            "parameters": dict(self.parameters),
            "value": self.value,
            "theoretical": self.theoretical,
            "relative_gap": self.relative_gap,
            "observed": dict(self.observed),
            "figure": self.figure,
            "caption": self.caption,
        }


#: Given the claim's whole outcome (each model's worst instance and notes), a certificate.
Certify = Callable[["Outcome"], Certificate]

#: Given the claim's whole outcome, a study: what a verdict alone does not say (where a
#: claim holds, by how much), as JSON: {"title", "summary", "table": {"columns", "rows"},
#: "figure": {"kind": "lines", "x_label", "y_label", "log_x", "log_y", "reference_y",
#: "y_range", "share_y", "panels": [{"title", "series": [{"label", "x", "y", "low",
#: "high"}]}]}};
#: table, figure and a series' band (low, high) optional.
Study = Callable[["Outcome"], dict[str, Any]]

#: Draws ``count`` instances at once as a batch, with torch's generator, on a device,
#: within the profile's sizes: the batched sweep (much faster than one instance per
#: Hypothesis example, and no substitute for it: it does not shrink).
Sweep = Callable[[int, "torch.Generator", Profile, "torch.device"], Batch]

#: Given one instance as a batch of one on the CPU, the figure the report draws of it,
#: fitted to the family: {"title", "caption", "figure"} (figure as in a Study).
Sketch = Callable[[Batch], dict[str, Any]]


@dataclass(frozen=True)
class Property:
    """A claim bound to a model: how to draw an instance and how to measure it.

    One claim may be bound to several models (``descent.lemma`` on quadratics, cosine
    sums, ...): each is its own property, named by ``model``, and the claim fails when
    any of them does.
    """

    claim: Claim
    instances: Callable[[Profile], SearchStrategy[Params]]
    measure: Measure
    dimension: Callable[[Params], int]
    model: str = "instances"
    frontier: Frontier | None = None
    certificate: Certify | None = None
    study: Study | None = None
    sketch: Sketch | None = None
    #: For a model that costs seconds an example (a training run): the examples it gets
    #: under a profile, instead of its share of the profile's examples.
    max_examples: Callable[[Profile], int] | None = None
    sweep: Sweep | None = None
    #: For a model whose measure is slow per instance (a loop over the batch): the
    #: instances its sweep gets under a profile, instead of the profile's ``sweep``.
    max_swept: Callable[[Profile], int] | None = None
    #: The number of inner steps K of an instance, where it has one: with ``dimension``,
    #: the coordinates of the searched domain that results.json reports, and what replay
    #: checks against the largest profile before it measures a file's instance.
    steps: Callable[[Params], int] | None = None
    #: A census instead of a hunt: every instance drawn is evaluated and counted, none is
    #: shrunk, and the verdict says on how many of them the claim fails. For instances
    #: that are experiments (a training run each), where shrinking would mean hundreds of
    #: runs and the question is how often, not whether. The claims of one family then
    #: draw the same instances (one seed per family and run), so that they read one set of
    #: experiments.
    census: bool = False
    #: A census's sampler: ``count`` instances drawn independently from the stated
    #: distribution, as one batch (the same signature as ``sweep``, but no extreme
    #: favoured: the failure proportion's interval assumes independent draws). Without
    #: one, a census takes the instances Hypothesis generates, which are not independent.
    sample: Sweep | None = None
    #: For a census: called with every instance drawn, before any is measured, so that
    #: their experiments can run together (cot trains its census as ensembles).
    prepare: Callable[[list[Params], torch.device], None] | None = None
    #: Whether a violation is checked against rounding before it counts (measured again
    #: under random rounding, ``trajcheck.evaluation.decided_by_rounding``). Off for a
    #: model whose every instance is a training run: re-running it costs seconds, and its
    #: violations are far from rounding (a cosine of 0.7 against 0.99).
    rounding_check: bool = True
    #: Why a saved instance (a counterexample file) could not have been drawn under a
    #: profile, in words, or None when it could: what ``trajcheck replay`` checks before
    #: it measures. ``drawn_by(program)`` reads it off the program; without one, replay
    #: checks only that the parameters are finite numbers.
    admits: Callable[[Params, Profile], str | None] | None = None


@dataclass
class Counterexample:
    """The minimal instance Hypothesis shrank a violation to, with both sides."""

    params: Params
    lhs: float
    rhs: float
    margin: float
    dimension: int
    part: str | None
    notes: dict[str, float]
    model: str = ""
    replay: str = ""
    found_by: str = "hypothesis (shrunk)"

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "found_by": self.found_by,
            "params": self.params,
            "lhs": self.lhs,
            "rhs": self.rhs,
            "margin": self.margin,
            "dimension": self.dimension,
            "part": self.part,
            "notes": self.notes,
            "replay": self.replay,
        }


@dataclass
class Outcome:
    """What the search of a claim (or of a mutant) concluded, over all its models."""

    verdict: Verdict
    examples: int
    worst_margin: float | None
    worst_notes: dict[str, float]
    worst_params: Params | None
    counterexample: Counterexample | None
    error: str | None
    seconds: float
    worst_model: str | None = None
    models: list[tuple[str, Outcome]] = field(default_factory=list)
    frontier: dict[str, Any] | None = None
    margins: dict[str, Any] | None = None  # histogram of the margins searched
    swept: int = 0  # instances the batched sweep tried (besides the examples)
    sketch: dict[str, Any] | None = None  # the figure of the instance the report shows
    #: a census property's instances: {"seed", "instances": [{"params", "violated",
    #: "margin", "part", "notes"}]}
    census: dict[str, Any] | None = None
    #: the searched domain: {name: [min, max]} over the instances measured (dimension,
    #: steps, every note such as a*L); a verdict says nothing outside it
    domain: dict[str, list[float]] = field(default_factory=dict)
    #: violations set aside as rounding (re-measured a few ulps away, they moved by as
    #: much as they exceeded the tolerance): counted, never reported as counterexamples
    rounding_only: int = 0
    #: where the sweep found a violation: how many of its instances lie past the
    #: tolerance (the first confirmed against rounding, the rest counted as measured)
    swept_violations: int = 0

    def models_json(self) -> list[dict[str, Any]]:
        """One line per model searched: where the verdict and the worst margin came from."""
        return [
            {
                "model": name,
                "verdict": o.verdict,
                "examples": o.examples,
                "swept": o.swept,
                "swept_violations": o.swept_violations,
                "worst_margin": o.worst_margin,
                "domain": o.domain,
                "seconds": o.seconds,
            }
            for name, o in self.models
        ]


@dataclass
class MutantResult:
    id: str
    change: str
    outcome: Outcome

    def to_json(self) -> dict[str, Any]:
        o = self.outcome
        return {
            "id": self.id,
            "change": self.change,
            "verdict": o.verdict,
            "refuted": o.verdict == "fails",
            "examples": o.examples,
            "worst_margin": o.worst_margin,
            "counterexample": o.counterexample.to_json() if o.counterexample else None,
            "error": o.error,
            "seconds": o.seconds,
            "models": o.models_json(),
        }


@dataclass
class Result:
    """The verdict on one claim and its mutants: one entry of ``results.json``."""

    claim: Claim
    outcome: Outcome
    mutants: list[MutantResult]
    origins: dict[str, str]  # model -> where its property was found
    certificates: list[dict[str, Any]] = field(default_factory=list)
    study: dict[str, Any] | None = None

    @property
    def as_expected(self) -> bool:
        """The verdict matches the expectation and every mutant was refuted.

        An ``open`` claim is never unexpected, but an ``error`` always is: it means the
        code, not the mathematics, failed.
        """
        verdict = self.outcome.verdict
        if verdict == "error":
            return False
        verdict_ok = self.claim.expected == "open" or verdict == self.claim.expected
        return verdict_ok and all(m.outcome.verdict == "fails" for m in self.mutants)

    def to_json(self) -> dict[str, Any]:
        c, o = self.claim, self.outcome
        return {
            "id": c.id,
            "family": c.family,
            "title": c.title,
            "kind": c.kind,
            "source": c.source,
            "citation": c.citation,
            "statement": c.statement,
            "latex": c.latex,
            "references": list(c.references),
            "assumptions": list(c.assumptions),
            "expected": c.expected,
            "verdict": o.verdict,
            "as_expected": self.as_expected,
            "examples": o.examples,
            "swept": o.swept,
            "swept_violations": o.swept_violations,
            "worst_margin": o.worst_margin,
            "worst_notes": o.worst_notes,
            "worst_instance": o.worst_params,
            "worst_model": o.worst_model,
            "models": o.models_json(),
            "frontier": o.frontier,
            "margins": o.margins,
            "sketch": o.sketch,
            "census": o.census,
            "domain": o.domain,
            "rounding_only": o.rounding_only,
            "rtol": c.rtol,
            "tolerance_note": c.tolerance_note,
            "search_note": c.search_note,
            "seconds": o.seconds,
            "error": o.error,
            "counterexample": o.counterexample.to_json() if o.counterexample else None,
            # the first certificate, as before 0.2 (field kept); every one in "certificates"
            "certificate": self.certificates[0] if self.certificates else None,
            "certificates": self.certificates,
            "study": self.study,
            "mutants": [m.to_json() for m in self.mutants],
            "origin": next(iter(self.origins.values()), ""),
            "origins": self.origins,
        }


def to_batch(params: Params, device: torch.device, dtype: torch.dtype | None = None) -> Batch:
    """JSON parameters -> tensors with a batch dimension of one: integers as int64, every
    other number in float64 unless ``dtype`` says otherwise. torch loads here, not with
    the core."""
    import torch

    real = torch.float64 if dtype is None else dtype
    batch: Batch = {}
    for key, value in params.items():
        is_int = isinstance(value, int) and not isinstance(value, bool)
        tensor = torch.tensor(value, dtype=torch.int64 if is_int else real, device=device)
        batch[key] = tensor.unsqueeze(0)
    return batch
