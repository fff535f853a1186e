"""The textbook weighted BCE with ``weight_positive=9`` is broken; ``pos_weight=9`` is the fix (TRAPS 1).

Tutorials write ``-[a·y·log p + (1 - a)·(1 - y)·log(1 - p)]`` and set
``a = n_neg / n_pos = 9``. Then the negative class gets weight ``1 - a = -8``:
the "loss" is negative, and it *decreases* as a negative example is predicted
more confidently positive, so training rewards wrong answers. wce refuses
``alpha=9`` and points to ``pos_weight``, which multiplies the positive term
only (PyTorch's ``BCEWithLogitsLoss(pos_weight=...)``, TensorFlow's
``weighted_cross_entropy_with_logits``).

Run: ``python examples/keras_pos_weight_trap.py``
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # TensorFlow is not needed

import keras  # noqa: E402
import numpy as np  # noqa: E402

import wce.keras  # noqa: E402


def textbook_weighted_bce(weight_positive: float):
    """The custom Keras loss as it is usually copied (probabilities in, alpha form)."""

    def loss(y_true, y_pred):
        y_true = keras.ops.convert_to_tensor(y_true)
        p = keras.ops.clip(keras.ops.convert_to_tensor(y_pred), 1e-7, 1.0 - 1e-7)
        return -keras.ops.mean(weight_positive * y_true * keras.ops.log(p)
                               + (1.0 - weight_positive) * (1.0 - y_true) * keras.ops.log(1.0 - p))

    return loss


def main() -> dict:
    y = np.array([1, 0, 1, 0, 1], dtype="float32")
    p = np.array([0.8, 0.2, 0.6, 0.9, 0.95], dtype="float32")
    broken = textbook_weighted_bce(9.0)
    fixed = wce.keras.BinaryCrossEntropy(pos_weight=9.0, from_logits=False,
                                         reduction="mean_per_sample")
    negative = np.array([0.0], dtype="float32")
    result = {
        "broken_loss": float(broken(y, p)),
        "fixed_loss": float(fixed(y, p)),
        # one negative example predicted ever more confidently positive
        "broken_on_negative": [float(broken(negative, np.array([q], dtype="float32")))
                               for q in (0.5, 0.9, 0.99)],
        "fixed_on_negative": [float(fixed(negative, np.array([q], dtype="float32")))
                              for q in (0.5, 0.9, 0.99)],
    }
    try:
        wce.keras.BinaryCrossEntropy(alpha=9.0, from_logits=False)
    except ValueError as error:
        result["alpha_9_error"] = str(error)
    print(f"textbook loss with weight_positive=9: {result['broken_loss']:.4f}  (negative!)")
    print(f"wce pos_weight=9:                     {result['fixed_loss']:.4f}")
    print("negative predicted 0.5, 0.9, 0.99 ->  textbook",
          [round(v, 2) for v in result["broken_on_negative"]],
          " wce", [round(v, 2) for v in result["fixed_on_negative"]])
    print("wce.keras.BinaryCrossEntropy(alpha=9):", result.get("alpha_9_error"))
    return result


if __name__ == "__main__":
    main()
