"""wce.keras on the shared case grid (tests/cases.py), on the active Keras backend.

The main run uses KERAS_BACKEND=torch; the Makefile reruns tests/test_keras*.py with
KERAS_BACKEND=jax. Keras' layout is class-last: scores, probability targets and the
gradient are moved from and back to the reference's class axis 1.
"""

from __future__ import annotations

import contextlib
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cases import Case, assert_matches_reference, cases_for  # noqa: E402

keras = pytest.importorskip("keras")
wk = pytest.importorskip("wce.keras")

BACKEND = keras.backend.backend()
# Keras' torch backend calls np.array(tensor) without copy=; the warning is Keras', not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")



def _enable_x64(jax):
    """jax.enable_x64 (newer JAX) or jax.experimental.enable_x64 (0.4.30, the lowest supported)."""
    found = getattr(jax, "enable_x64", None)
    if found is None:
        from jax.experimental import enable_x64 as found
    return found

def _class_last(array, binary):
    return array if binary or array.ndim < 2 else np.moveaxis(array, 1, -1)


def _value_and_grad(loss, y_true, scores, sample_weight, dtype):
    """The loss and the gradient of its sum w.r.t. the scores, by the backend's autodiff."""
    if BACKEND == "torch":
        import torch

        z = torch.tensor(scores, dtype=getattr(torch, dtype), requires_grad=True)
        out = loss(y_true, z, sample_weight=sample_weight)
        out.backward(torch.ones_like(out))
        return out.detach().double().cpu().numpy(), z.grad.double().cpu().numpy(), str(out.dtype)
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        out, vjp = jax.vjp(lambda z: loss(y_true, z, sample_weight=sample_weight),
                           jnp.asarray(scores, dtype))
        (grad,) = vjp(jnp.ones_like(out))
        return np.asarray(out, np.float64), np.asarray(grad, np.float64), str(out.dtype)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        z = tf.constant(scores, dtype=dtype)
        with tf.GradientTape() as tape:
            tape.watch(z)
            out = loss(y_true, z, sample_weight=sample_weight)
        grad = tape.gradient(out, z, output_gradients=tf.ones_like(out))
        return out.numpy().astype(np.float64), grad.numpy().astype(np.float64), out.dtype.name
    pytest.skip(f"no gradient helper for the {BACKEND} backend")


def _precision(dtype):
    """float64 on the JAX backend needs x64 for the duration of the call."""
    if BACKEND == "jax" and dtype == "float64":
        import jax

        return _enable_x64(jax)(True)
    return contextlib.nullcontext()


@pytest.mark.parametrize("case", cases_for(("float32", "float64")))
def test_keras_matches_reference(case: Case):
    spec = case.spec
    with _precision(case.dtype):
        data = case.data(round_scores=lambda x: x.astype(case.dtype).astype(np.float64))
        options = {k: v for k, v in data.kwargs.items() if k != "sample_weight"}
        options.setdefault("from_logits", True)
        # The reference's "mean" is the weighted mean for multiclass losses and the element
        # mean for binary ones; Keras' "mean" is always the element mean: ask by the explicit name.
        reduction = {"mean": "mean_per_sample" if spec.binary else "weighted_mean"}.get(
            case.reduction, case.reduction)
        loss = getattr(wk, spec.keras_class)(reduction=reduction, dtype=case.dtype, **options)
        targets = _class_last(data.targets, spec.binary or data.targets.ndim < data.scores.ndim)
        if targets.dtype.kind == "f":
            targets = targets.astype(case.dtype)
        value, grad, out_dtype = _value_and_grad(
            loss, targets, _class_last(data.scores, spec.binary), data.kwargs.get("sample_weight"),
            case.dtype)
    assert out_dtype.endswith(case.dtype), f"{case.id}: result in {out_dtype}"
    grad = grad if spec.binary else np.moveaxis(grad, -1, 1)
    expected_value, expected_grad = case.expected(data)
    if spec.binary and case.reduction in ("none", "sum"):
        # Keras' binary "none"/"sum" average over the last axis first (keras.losses.BinaryCrossentropy).
        width = data.scores.shape[-1] if data.scores.ndim else 1
        expected_grad = np.asarray(expected_grad) / width
        expected_value = (np.mean(expected_value, axis=-1) if case.reduction == "none"
                          else np.asarray(expected_value) / width)
    assert_matches_reference(case, data, value, grad, expected_value, expected_grad)
