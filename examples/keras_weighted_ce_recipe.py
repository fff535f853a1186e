"""Recipe: Keras' CategoricalCrossentropy with per-sample weights *is* weighted cross-entropy.

The recipe users copy: ``sample_weight = Σ_c class_weight[c] * y_true[:, c]`` with
``keras.losses.CategoricalCrossentropy(from_logits=True)``. Keras divides by the
number of samples, so it equals ``wce.keras.WeightedCrossEntropy`` with its
default reduction (Keras' ``"sum_over_batch_size"``); Keras'
``"mean_with_sample_weight"`` divides by the total weight and equals wce's
``reduction="weighted_mean"`` (TRAPS 6).

Run: ``python examples/keras_weighted_ce_recipe.py``
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # TensorFlow is not needed

import keras  # noqa: E402
import numpy as np  # noqa: E402

import wce  # noqa: E402
import wce.keras  # noqa: E402


def main() -> dict:
    rng = np.random.default_rng(0)
    y = rng.choice(4, size=256, p=[0.7, 0.2, 0.07, 0.03])
    logits = rng.normal(size=(256, 4)).astype("float32")
    y_onehot = np.eye(4, dtype="float32")[y]
    # inverse_sqrt: a scheme whose per-sample mean weight is not 1, so the two means
    # differ (with "balanced" the weights average to 1 over the data).
    class_weight = wce.class_weights(y, scheme="inverse_sqrt").astype("float32")

    sample_weight = (y_onehot * class_weight).sum(axis=-1)  # Σ_c w_c y_c
    recipe = keras.losses.CategoricalCrossentropy(from_logits=True)
    recipe_mean = keras.losses.CategoricalCrossentropy(from_logits=True,
                                                       reduction="mean_with_sample_weight")
    result = {
        "keras_recipe": float(recipe(y_onehot, logits, sample_weight=sample_weight)),
        "wce_default": float(wce.keras.WeightedCrossEntropy(
            class_weight=class_weight, from_logits=True)(y, logits)),
        "keras_mean_with_sample_weight": float(recipe_mean(y_onehot, logits,
                                                           sample_weight=sample_weight)),
        "wce_weighted_mean": float(wce.keras.WeightedCrossEntropy(
            class_weight=class_weight, from_logits=True, reduction="weighted_mean")(y, logits)),
    }
    for name, value in result.items():
        print(f"{name:32s} {value:.6f}")
    return result


if __name__ == "__main__":
    main()
