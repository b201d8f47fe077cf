"""Every norm in the models and the properties is the underflow-safe one.

A norm computed as the square root of a sum of squares is 0 for a vector of size 1e-163
and infinite for one of size 1e200; where it feeds a side or a rounding scale, that is a
false alarm or a false pass (meta.first_order_error reported 2.2e-162 > 0 on a
quadratic inside its assumptions). This test reads the source, so that a new model or
measure that computes a norm any other way fails here before any search.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from trajcheck.discovery import discover
from trajcheck.evaluation import evaluate
from trajcheck_catalogue.models.norms import frobenius, norm

ROOT = Path(__file__).resolve().parent.parent
SCANNED = [p for folder in ("models", "properties", "theory") for p in (ROOT / folder).glob("*.py")]
SAFE = ROOT / "models" / "norms.py"
#: Norms computed by an SVD (LAPACK scales those): the spectral norm and its inverse.
SPECTRAL_ORDERS = (2, -2)


def _order(call: ast.Call) -> object:
    for keyword in call.keywords:
        if keyword.arg == "ord" and isinstance(keyword.value, ast.Constant | ast.UnaryOp):
            return ast.literal_eval(keyword.value)
    return None


def _squares_summed(node: ast.AST) -> bool:
    """An expression that sums squares: ``(v * v).sum(...)`` or ``(v ** 2).sum(...)``."""
    text = ast.unparse(node)
    return ".sum(" in text and ("** 2" in text or "**2" in text or " * " in text)


def plain_norms(path: Path, root: Path = ROOT) -> list[str]:
    """Each call in ``path`` that computes a Euclidean or Frobenius norm by squaring."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        squaring = (
            name in ("norm", "vector_norm", "matrix_norm") and _order(node) not in SPECTRAL_ORDERS
        ) or (name == "sqrt" and any(_squares_summed(arg) for arg in [node.func.value, *node.args]))
        if squaring:
            found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_model_or_property_computes_a_norm_by_squaring() -> None:
    found = [line for path in SCANNED if path != SAFE for line in plain_norms(path)]
    assert not found, "use models.norms.norm or frobenius instead:\n" + "\n".join(found)


def test_the_scan_finds_the_norms_it_forbids(tmp_path: Path) -> None:
    """The scan itself must be able to fail."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "a = x.norm(dim=-1)\n"
        "b = torch.linalg.vector_norm(x)\n"
        "c = torch.linalg.matrix_norm(m)\n"
        "d = np.linalg.norm(v)\n"
        "e = ((x * x).sum(-1)).sqrt()\n"
        "f = torch.linalg.matrix_norm(m, ord=2)\n"  # spectral: allowed
        "g = norm(x)\n"  # the safe one: allowed
    )
    assert len(plain_norms(sample, root=tmp_path)) == 5


@pytest.mark.parametrize("size", [1e-300, 6.6e-164, 1.0, 1e200])
def test_the_safe_norm_neither_underflows_nor_overflows(size: float) -> None:
    v = torch.tensor([[3 * size, 4 * size]], dtype=torch.float64)
    assert norm(v).item() == pytest.approx(5 * size, rel=1e-15)
    assert frobenius(v.reshape(1, 1, 2)).item() == pytest.approx(5 * size, rel=1e-15)


def test_first_order_error_at_a_gradient_of_1e_minus_162_is_no_violation() -> None:
    """The false alarm of the reliability issue, replayed: A = 12 I, a*L = 2, x0 = [0,
    6.6e-164], K = 1. U_a(x) = -x, so grad f(U_a(x)) = -12 x is about 7.9e-163 and the
    bound is attained: both sides are 2 ||grad f(U_a(x))||. With norms by squaring, the
    sides were 2.2e-162 (a subnormal square rounded up) and 0 (one rounded down)."""
    params = {
        "spectrum": [12.0, 12.0],
        "rotation": [[1.0, 0.0], [0.0, 1.0]],
        "x0": [0.0, 6.6e-164],
        "a": 2.0 / 12.0,
        "K": 1,
    }
    entry = discover().entries["meta.first_order_error"]
    prop = entry.prop_for("quadratic")
    assert prop is not None
    evaluation = evaluate(prop, params, prop.claim.constants, torch.device("cpu"))
    assert evaluation.rhs == pytest.approx(2 * 12 * 6.6e-164, rel=1e-12)
    assert evaluation.lhs == pytest.approx(evaluation.rhs, rel=1e-12)
    assert not evaluation.violates(prop.claim.rtol)
