"""``fit(class_weight=compute_class_weight('balanced'))`` is wce weighted CE with scheme "balanced".

Keras turns ``class_weight`` into per-sample weights and divides the batch's
weighted loss by the batch size: that is ``wce.keras.WeightedCrossEntropy``
with ``class_weight=wce.class_weights(y, scheme="balanced")`` and its default
reduction (Keras' ``"sum_over_batch_size"``). From the same initial weights,
with plain SGD and the same batches, both give the same loss and the same
trained weights. ``reduction="weighted_mean"`` divides by the batch's total
weight instead, which changes the step size per batch (TRAPS 3), so it trains
differently.

Run: ``python examples/keras_fit_class_weight.py``
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # TensorFlow is not needed

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

import wce  # noqa: E402
import wce.keras  # noqa: E402


def _model(n_features: int, n_classes: int, initial=None):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((n_features,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(n_classes)])
    if initial is not None:
        model.set_weights(initial)
    return model


def main(epochs: int = 3) -> dict:
    X, y = make_classification(n_samples=600, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.8, 0.15, 0.05], random_state=0)
    X = X.astype("float32")
    sklearn_weights = compute_class_weight("balanced", classes=np.unique(y), y=y)
    wce_weights = wce.class_weights(y, scheme="balanced")
    initial = _model(6, 3).get_weights()
    fit = dict(epochs=epochs, batch_size=64, shuffle=False, verbose=0)

    keras_model = _model(6, 3, initial)
    keras_model.compile(optimizer=keras.optimizers.SGD(0.05),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    keras_history = keras_model.fit(X, y, class_weight=dict(enumerate(sklearn_weights)), **fit)

    results = {"sklearn_weights": sklearn_weights.tolist(), "wce_weights": wce_weights.tolist(),
               "keras_loss": keras_history.history["loss"]}
    for reduction in ("sum_over_batch_size", "weighted_mean"):
        model = _model(6, 3, initial)
        model.compile(optimizer=keras.optimizers.SGD(0.05),
                      loss=wce.keras.WeightedCrossEntropy(class_weight=wce_weights, from_logits=True,
                                                          reduction=reduction))
        history = model.fit(X, y, **fit)
        results[f"wce_{reduction}_loss"] = history.history["loss"]
        results[f"max_weight_difference_{reduction}"] = max(
            float(np.max(np.abs(a - b))) for a, b in zip(model.get_weights(), keras_model.get_weights()))

    print("class weights  sklearn:", np.round(sklearn_weights, 4), " wce:", np.round(wce_weights, 4))
    print("epoch losses   keras class_weight:", np.round(results["keras_loss"], 6))
    print("               wce default:        ", np.round(results["wce_sum_over_batch_size_loss"], 6))
    print("               wce weighted_mean:  ", np.round(results["wce_weighted_mean_loss"], 6))
    print("max |trained weight difference| vs Keras:",
          f"default {results['max_weight_difference_sum_over_batch_size']:.2e},",
          f"weighted_mean {results['max_weight_difference_weighted_mean']:.2e}")
    return results


if __name__ == "__main__":
    main()
