"""wce.torch and wce.jax on the shared case grid (tests/cases.py): value and gradient equal the
NumPy reference, and the reference equals the naive oracle (tests/oracle.py)."""

from __future__ import annotations

import numpy as np
import pytest

import oracle
from cases import CASES, LOSSES, Case, assert_matches_reference, cases_for

TORCH_DTYPES = ("float32", "float64", "float16", "bfloat16")
JAX_DTYPES = ("float32", "float64")



def _enable_x64(jax):
    """jax.enable_x64 (newer JAX) or jax.experimental.enable_x64 (0.4.30, the lowest supported)."""
    found = getattr(jax, "enable_x64", None)
    if found is None:
        from jax.experimental import enable_x64 as found
    return found

def _run_torch(case: Case):
    torch = pytest.importorskip("torch")
    import wce.torch as wt

    dtype = getattr(torch, case.dtype)
    data = case.data(round_scores=lambda x: torch.tensor(x).to(dtype).double().numpy())
    x = torch.tensor(data.scores, dtype=dtype, requires_grad=True)
    targets = torch.as_tensor(data.targets)
    if targets.is_floating_point():
        targets = targets.to(dtype)
    # Weights as tensors in the scores' dtype; under half precision in float32, as the buffers of
    # a module kept in float32 under autocast would be.
    weight_dtype = torch.float32 if case.dtype in ("float16", "bfloat16") else dtype
    kwargs = {k: torch.as_tensor(v, dtype=weight_dtype) if isinstance(v, np.ndarray) else v
              for k, v in data.kwargs.items()}
    out = getattr(wt, case.spec.function)(x, targets, reduction=case.reduction, **kwargs)
    assert out.dtype == dtype, f"{case.id}: result in {out.dtype}, not the scores' {dtype}"
    out.backward(torch.ones_like(out))
    return data, out.detach().double().numpy(), x.grad.double().numpy()


def _run_jax(case: Case):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    from wce import jax as wjax

    with _enable_x64(jax)(case.dtype == "float64"):
        dtype = jnp.dtype(case.dtype)
        data = case.data(round_scores=lambda x: np.asarray(jnp.asarray(x, dtype), np.float64))
        loss = getattr(wjax, case.spec.function)
        targets = jnp.asarray(data.targets, dtype if data.targets.dtype.kind == "f" else None)
        out, vjp = jax.vjp(lambda z: loss(z, targets, reduction=case.reduction, **data.kwargs),
                           jnp.asarray(data.scores, dtype))
        assert out.dtype == dtype, f"{case.id}: result in {out.dtype}, not the scores' {dtype}"
        (grad,) = vjp(jnp.ones_like(out))
        return data, np.asarray(out, np.float64), np.asarray(grad, np.float64)


@pytest.mark.parametrize("case", cases_for(TORCH_DTYPES))
def test_torch_matches_reference(case):
    data, value, grad = _run_torch(case)
    assert_matches_reference(case, data, value, grad, *case.expected(data))


@pytest.mark.parametrize("case", cases_for(JAX_DTYPES))
def test_jax_matches_reference(case):
    data, value, grad = _run_jax(case)
    assert_matches_reference(case, data, value, grad, *case.expected(data))


# --------------------------------------------------------------------------- the reference itself


def _oracle_value(case: Case, data):
    """The naive formula for the case."""
    kwargs = dict(data.kwargs)
    name = case.spec.function
    if name == "balanced_softmax_cross_entropy":  # = logit adjustment by the counts, tau = 1
        kwargs["class_prior"] = kwargs.pop("samples_per_class")
        name = "logit_adjusted_cross_entropy"
    if name == "ldam_loss":  # CE of s * (z - Δ_y onehot(y)), Δ_c ∝ n_c^(-1/4), max Δ = 1/2
        counts = np.asarray(kwargs.pop("samples_per_class"), dtype=float)
        scale = kwargs.pop("scale")
        margins = counts ** -0.25 * (0.5 / np.max(counts ** -0.25))
        onehot = np.moveaxis(np.eye(len(counts))[np.where(data.targets >= 0, data.targets, 0)],
                             -1, 1)
        shifted = scale * (data.scores - margins.reshape((1, -1) + (1,) * (data.scores.ndim - 2))
                           * onehot)
        return oracle.weighted_cross_entropy(shifted, data.targets, reduction=case.reduction,
                                             **kwargs)
    return getattr(oracle, name)(data.scores, data.targets, reduction=case.reduction, **kwargs)


# On ordinary logits (the oracle's log(1 - p) breaks where p rounds to 1), in float64 and float32
# (the dtype only changes the random inputs here); the oracle takes scalar binary weights only.
ORACLE_CASES = [c for c in CASES if c.dtype in ("float32", "float64") and c.logits == "normal"
                and "pos_weight" not in c.weights]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in ORACLE_CASES])
def test_reference_matches_naive_oracle(case):
    """The reference every backend is compared with agrees with textbook loops on every case."""
    data = case.data()
    expected = _oracle_value(case, data)
    value, _ = case.expected(data)
    np.testing.assert_allclose(value, expected, rtol=1e-9, atol=1e-12)


def test_grid_covers_every_value_of_every_axis():
    """Every loss x target kind, and every reduction, weighting, ignore_index, logits and dtype."""
    from cases import DTYPES, LOGITS, REDUCTIONS

    seen = {(c.loss, c.target) for c in CASES}
    assert seen == {(name, t) for name, spec in LOSSES.items() for t in spec.targets}
    for name, spec in LOSSES.items():
        mine = [c for c in CASES if c.loss == name]
        assert {c.reduction for c in mine} == set(REDUCTIONS), name
        assert {c.weights.replace("+sample", "") for c in mine} >= {"none", "sample",
                                                                    *spec.weight_forms}, name
        assert {c.dtype for c in mine} >= {"float32", "float64"}, name
        if spec.from_logits:
            assert {c.logits for c in mine} == set(LOGITS), name
    assert {c.dtype for c in CASES} == set(DTYPES)
    assert any(c.ignore_index and c.target == "square_index" for c in CASES)
