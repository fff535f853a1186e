"""TensorFlow's weighted cross-entropy recipes, each run beside its wce equivalent.

The recipes TensorFlow users copy, on the same data as wce (Keras on the
TensorFlow backend):

1. ``tf.nn.weighted_cross_entropy_with_logits(labels, logits, pos_weight)``
   then ``tf.reduce_mean``: ``wce.keras.BinaryCrossEntropy(pos_weight=...,
   from_logits=True, reduction="mean_per_sample")``, binary and multi-label
   (one ``pos_weight`` per label).
2. Weighted categorical cross-entropy on a softmax output,
   ``-Σ_c w_c y_c log p_c`` with ``tf.reduce_sum``:
   ``wce.keras.WeightedCrossEntropy(class_weight=w, from_logits=False,
   reduction="mean_per_sample")``.
3. A Keras custom loss closure ``weighted_loss(w)`` trained with
   ``model.fit``: the same epoch losses and trained weights as the wce loss.
4. ``model.fit(class_weight=...)`` with scikit-learn's
   ``compute_class_weight('balanced', ...)``: ``wce.keras.class_weight_dict``
   gives the same dict, ``fit(sample_weight=wce.keras.sample_weights(...))``
   and the wce loss train the same model.
5. The textbook ``-[a·y·log p + (1 - a)·(1 - y)·log(1 - p)]`` with ``a = 9``
   gives the negative class the weight ``1 - a = -8``: the loss is negative
   and rewards confident wrong answers. wce refuses ``alpha=9`` and points to
   ``pos_weight=9``, which is TensorFlow's ``weighted_cross_entropy_with_logits``.

Every wce value is also checked against the NumPy reference in
``wce.losses`` by ``tests/test_tensorflow_recipes.py``.

Run: ``python examples/tensorflow_recipes.py`` (needs ``tensorflow`` or
``tensorflow-cpu``, and scikit-learn; a few seconds on a CPU).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up messages

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

import wce  # noqa: E402
import wce.keras  # noqa: E402

EPS = 1e-7  # keras.backend.epsilon(), the clip the recipes use; wce clips probabilities the same


def numpy(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


# --------------------------------------------------------------------------- the recipes


def weighted_bce_with_logits(labels, logits, pos_weight):
    """Recipe 1: TensorFlow's own weighted binary cross-entropy, averaged over the elements."""
    return tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(
        labels=labels, logits=logits, pos_weight=pos_weight))


def weighted_categorical_crossentropy(y_onehot, probs, class_weight):
    """Recipe 2: ``-Σ_c w_c y_c log p_c`` per sample, on softmax outputs."""
    probs = tf.clip_by_value(probs, EPS, 1.0 - EPS)
    return -tf.reduce_sum(class_weight * y_onehot * tf.math.log(probs), axis=-1)


def weighted_loss(class_weight):
    """Recipe 3: the Keras custom loss closure, for integer labels and a softmax output."""
    w = tf.constant(class_weight, dtype=tf.float32)

    def loss(y_true, y_pred):
        y_onehot = tf.one_hot(tf.cast(tf.reshape(y_true, [-1]), tf.int32), depth=w.shape[0])
        return weighted_categorical_crossentropy(y_onehot, y_pred, w)  # Keras averages it

    return loss


def textbook_weighted_bce(a):
    """Recipe 5: the alpha form as tutorials write it (probabilities in)."""

    def loss(y_true, y_pred):
        p = tf.clip_by_value(y_pred, EPS, 1.0 - EPS)
        return -tf.reduce_mean(a * y_true * tf.math.log(p)
                               + (1.0 - a) * (1.0 - y_true) * tf.math.log(1.0 - p))

    return loss


# --------------------------------------------------------------------------- side by side


def binary_pos_weight() -> dict:
    rng = np.random.default_rng(0)
    y = (rng.random(512) < 0.1).astype("float32")
    z = rng.normal(size=512).astype("float32") + 2.0 * y
    pos_weight = float(wce.pos_weight(y.astype(int)))  # n_neg / n_pos
    multilabel_y = (rng.random((256, 3)) < [0.3, 0.1, 0.03]).astype("float32")
    multilabel_z = rng.normal(size=(256, 3)).astype("float32")
    label_pos_weight = np.array([2.0, 5.0, 9.0], dtype="float32")
    return {
        "y": y, "logits": z, "pos_weight": pos_weight,
        "tf": float(weighted_bce_with_logits(y, z, pos_weight)),
        "tf_elements": tf.nn.weighted_cross_entropy_with_logits(
            labels=y, logits=z, pos_weight=pos_weight).numpy(),
        "wce": float(numpy(wce.keras.BinaryCrossEntropy(
            pos_weight=pos_weight, from_logits=True, reduction="mean_per_sample")(y, z))),
        "multilabel_y": multilabel_y, "multilabel_logits": multilabel_z,
        "label_pos_weight": label_pos_weight,
        "tf_multilabel": float(weighted_bce_with_logits(multilabel_y, multilabel_z,
                                                        label_pos_weight)),
        "wce_multilabel": float(numpy(wce.keras.BinaryCrossEntropy(
            pos_weight=label_pos_weight, from_logits=True,
            reduction="mean_per_sample")(multilabel_y, multilabel_z))),
    }


def categorical() -> dict:
    rng = np.random.default_rng(1)
    y = rng.choice(4, size=512, p=[0.7, 0.2, 0.07, 0.03])
    probs = tf.nn.softmax(rng.normal(size=(512, 4)).astype("float32")).numpy()
    y_onehot = np.eye(4, dtype="float32")[y]
    class_weight = wce.class_weights(y, scheme="inverse_sqrt").astype("float32")
    wce_loss = wce.keras.WeightedCrossEntropy(class_weight=class_weight, from_logits=False,
                                              reduction="mean_per_sample")
    return {
        "y": y, "probs": probs, "class_weight": class_weight,
        "tf_elements": weighted_categorical_crossentropy(y_onehot, probs, class_weight).numpy(),
        "tf": float(tf.reduce_mean(weighted_categorical_crossentropy(y_onehot, probs,
                                                                     class_weight))),
        "wce_index_targets": float(numpy(wce_loss(y, probs))),
        "wce_onehot_targets": float(numpy(wce_loss(y_onehot, probs))),
        "wce_elements": numpy(wce.keras.WeightedCrossEntropy(
            class_weight=class_weight, from_logits=False, reduction="none")(y, probs)),
    }


def _data():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=600, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.8, 0.15, 0.05], random_state=0)
    return X.astype("float32"), y


def _model(initial=None):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(3, activation="softmax")])
    if initial is not None:
        model.set_weights(initial)
    return model


def _train(initial, X, y, loss, epochs, **fit_kwargs):
    """SGD from the same initial weights, same batches (the last one is smaller: 600 = 9·64 + 24)."""
    model = _model(initial)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss)
    history = model.fit(X, y, epochs=epochs, batch_size=64, shuffle=False, verbose=0, **fit_kwargs)
    return history.history["loss"], model.get_weights()


def _max_difference(a, b) -> float:
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a, b))


def keras_closure(epochs: int = 3) -> dict:
    X, y = _data()
    class_weight = wce.class_weights(y, scheme="balanced").astype("float32")
    initial = _model().get_weights()
    closure_loss, closure_weights = _train(initial, X, y, weighted_loss(class_weight), epochs)
    wce_loss, wce_weights = _train(initial, X, y, wce.keras.WeightedCrossEntropy(
        class_weight=class_weight, from_logits=False, reduction="mean_per_sample"), epochs)
    return {"closure_loss": closure_loss, "wce_loss": wce_loss,
            "max_weight_difference": _max_difference(closure_weights, wce_weights)}


def fit_class_weight(epochs: int = 3) -> dict:
    X, y = _data()
    sklearn_weights = compute_class_weight("balanced", classes=np.unique(y), y=y)
    wce_dict = wce.keras.class_weight_dict(y, scheme="balanced")
    initial = _model().get_weights()
    keras_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=False)
    keras_loss, keras_weights = _train(initial, X, y, keras_ce, epochs,
                                       class_weight=dict(enumerate(sklearn_weights)))
    sw_loss, sw_weights = _train(initial, X, y, keras_ce, epochs,
                                 sample_weight=wce.keras.sample_weights(y, wce_dict))
    wce_loss, wce_weights = _train(initial, X, y, wce.keras.WeightedCrossEntropy(
        class_weight=wce.class_weights(y, scheme="balanced"), from_logits=False,
        reduction="mean_per_sample"), epochs)
    return {
        "sklearn_weights": dict(enumerate(sklearn_weights.tolist())), "wce_dict": wce_dict,
        "class_weight_loss": keras_loss, "sample_weights_loss": sw_loss, "wce_loss": wce_loss,
        "max_weight_difference_sample_weights": _max_difference(keras_weights, sw_weights),
        "max_weight_difference_wce": _max_difference(keras_weights, wce_weights),
    }


def alpha_trap() -> dict:
    y = np.array([1, 0, 1, 0, 1], dtype="float32")
    p = np.array([0.8, 0.2, 0.6, 0.9, 0.95], dtype="float32")
    negative = np.zeros(1, dtype="float32")
    confident = [0.5, 0.9, 0.99]
    broken = textbook_weighted_bce(9.0)
    fixed = wce.keras.BinaryCrossEntropy(pos_weight=9.0, from_logits=False,
                                         reduction="mean_per_sample")
    result = {
        "y": y, "p": p,
        "broken_loss": float(broken(y, p)),
        # one negative example predicted ever more confidently positive
        "broken_on_negative": [float(broken(negative, np.array([q], "float32"))) for q in confident],
        "fixed_loss": float(numpy(fixed(y, p))),
        "fixed_on_negative": [float(numpy(fixed(negative, np.array([q], "float32"))))
                              for q in confident],
        # pos_weight=9 on probabilities is TensorFlow's weighted BCE on the logits log(p / (1 - p))
        "tf_pos_weight_9": float(weighted_bce_with_logits(y, tf.math.log(p / (1.0 - p)), 9.0)),
        # a in [0, 1] is a valid weighting, and the textbook form then equals wce's alpha
        "textbook_alpha_0.9": float(textbook_weighted_bce(0.9)(y, p)),
        "wce_alpha_0.9": float(numpy(wce.keras.BinaryCrossEntropy(
            alpha=0.9, from_logits=False, reduction="mean_per_sample")(y, p))),
    }
    try:
        wce.keras.BinaryCrossEntropy(alpha=9.0, from_logits=False)
    except ValueError as error:
        result["alpha_9_error"] = str(error)
    return result


def main(epochs: int = 3) -> dict:
    results = {"binary": binary_pos_weight(), "categorical": categorical(),
               "closure": keras_closure(epochs), "class_weight": fit_class_weight(epochs),
               "alpha": alpha_trap()}
    b, c, k, f, a = results.values()
    print(f"Keras {keras.__version__} on {keras.backend.backend()}, TensorFlow {tf.__version__}")
    print(f"1. weighted_cross_entropy_with_logits  tf {b['tf']:.7f}  wce {b['wce']:.7f}"
          f"  (multi-label: tf {b['tf_multilabel']:.7f}  wce {b['wce_multilabel']:.7f})")
    print(f"2. -Σ w y log p (reduce_sum)            tf {c['tf']:.7f}  wce {c['wce_index_targets']:.7f}")
    print("3. custom loss closure, epoch losses   tf", np.round(k["closure_loss"], 6),
          " wce", np.round(k["wce_loss"], 6), f" max |Δ weight| {k['max_weight_difference']:.1e}")
    print("4. fit(class_weight=balanced)          ", np.round(f["class_weight_loss"], 6),
          " sample_weights", np.round(f["sample_weights_loss"], 6),
          " wce", np.round(f["wce_loss"], 6))
    print(f"5. textbook a=9: {a['broken_loss']:.4f} (negative), on a negative predicted 0.5/0.9/0.99:",
          [round(v, 2) for v in a["broken_on_negative"]],
          f"; wce pos_weight=9: {a['fixed_loss']:.4f}, tf: {a['tf_pos_weight_9']:.4f}")
    print("   wce.keras.BinaryCrossEntropy(alpha=9):", a.get("alpha_9_error"))
    return results


if __name__ == "__main__":
    main()
