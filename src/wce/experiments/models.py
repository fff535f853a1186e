"""Models for `wce compare`: each trains on one fold's :class:`~wce.experiments.methods.FoldPlan`
and returns logits (log-odds of the positive class) for new rows.

* ``logreg`` (default): a linear model ``z = X w + b`` trained with scipy's
  L-BFGS on the wce NumPy reference loss of the method
  (:func:`wce.losses.value_and_grad` gives value and gradient) plus
  ``||w||² / (2 C n)``, the intercept unpenalised. With plain CE this is
  scikit-learn's ``LogisticRegression(C=C)``. Every loss-based method uses this
  same model and optimiser, so differences come from the loss alone.
* ``mlp``: scikit-learn's ``MLPClassifier`` (one hidden layer of 32), class
  weighting through ``fit(sample_weight=...)``.
* ``lightgbm`` / ``xgboost``: gradient-boosted trees trained through wce's own
  objectives (:class:`wce.lightgbm.WeightedLGBMClassifier`,
  :class:`wce.xgboost.WeightedXGBClassifier`) for every method: weighted CE
  with the method's sample weights, ``loss="focal"`` with ``gamma``,
  ``loss="cost_sensitive"`` with the cost matrix, the class-balanced loss as
  its ``class_weight``. Logit adjustment has no objective there and is
  unsupported for them.
* ``torch-mlp``: a one-hidden-layer (32 units) PyTorch MLP trained full-batch
  with Adam on the method's loss from :mod:`wce.torch` (same name and options
  as the NumPy reference), so it supports every method.
"""

from __future__ import annotations

import importlib

import numpy as np

from .. import _optional
from ..losses import value_and_grad

MODELS = ("logreg", "mlp", "lightgbm", "xgboost", "torch-mlp")
_REQUIRES = {"logreg": "scipy.optimize", "mlp": "sklearn.neural_network", "lightgbm": "lightgbm",
             "xgboost": "xgboost", "torch-mlp": "torch"}


class LinearModel:
    """Linear logits trained by L-BFGS on a wce reference loss with L2 regularisation."""

    # tol: the projected gradient's largest component at convergence (L-BFGS-B's gtol) on the mean
    # loss, scikit-learn's LogisticRegression's default stopping rule (tol=1e-4 on the same
    # objective), so a plain-CE fit stops where scikit-learn's does.
    def __init__(self, *, C: float = 1.0, max_iter: int = 500, tol: float = 1e-4):
        self.C, self.max_iter, self.tol = C, max_iter, tol

    def objective(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray, plan) -> tuple:
        """``(loss + L2 penalty, gradient)`` at ``theta = [w, b]``."""
        n, d = X.shape
        lam = 1.0 / (self.C * n)
        w, b = theta[:d], theta[d]
        z = X @ w + b
        if plan.binary is not None:  # the softmax loss in its exact binary form
            loss, kwargs, reduction, offset = plan.binary
            value, gz = value_and_grad(loss, z + offset if offset else z, y, reduction=reduction, **kwargs)
        elif plan.two_column:
            # softmax([0, z])[1] = sigmoid(z): the softmax losses on a binary linear model.
            value, g = value_and_grad(plan.loss, np.column_stack([np.zeros(n), z]), y,
                                      reduction=plan.reduction, **plan.loss_kwargs)
            gz = g[:, 1]  # column 0 is the constant 0
        else:
            value, gz = value_and_grad(plan.loss, z, y, reduction=plan.reduction, **plan.loss_kwargs)
        value = float(value) + 0.5 * lam * float(w @ w)
        return value, np.concatenate([X.T @ gz + lam * w, [gz.sum()]])

    def fit(self, X: np.ndarray, y: np.ndarray, plan) -> "LinearModel":
        from scipy.optimize import minimize

        # float labels once, not at every step (the softmax form takes them as integers)
        y = np.asarray(y, dtype=np.int64 if plan.binary is None and plan.two_column else np.float64)
        result = minimize(self.objective, np.zeros(X.shape[1] + 1), args=(X, y, plan), jac=True,
                          method="L-BFGS-B", options={"maxiter": self.max_iter, "gtol": self.tol, "ftol": 1e-12})
        self.coef_, self.intercept_ = result.x[:-1], float(result.x[-1])
        self.n_iter_ = int(result.nit)
        self.loss_ = _loss_text(plan)
        return self

    def describe(self) -> str:
        return f"LinearModel(C={self.C!r}, loss={self.loss_})"

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef_ + self.intercept_


def _loss_text(plan) -> str:
    """``name(option=value, ...)`` of a plan's reference loss (arrays summarised)."""
    kw = {k: (np.round(np.asarray(v, dtype=float), 6).tolist() if isinstance(v, (list, tuple, np.ndarray)) else v)
          for k, v in plan.loss_kwargs.items()}
    return plan.loss.__name__ + "(" + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")"


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1.0 - 1e-12)
    return np.log(p) - np.log1p(-p)


class SampleWeightModel:
    """scikit-learn's ``MLPClassifier`` weighted through ``fit(sample_weight=...)``."""

    def __init__(self, name: str, seed: int):
        from sklearn.neural_network import MLPClassifier

        self.name, self.seed = name, seed
        self.model = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=seed)

    def fit(self, X: np.ndarray, y: np.ndarray, plan) -> "SampleWeightModel":
        self.model.fit(X, y.astype(np.int64), sample_weight=plan.sample_weight)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return _logit(self.model.predict_proba(X)[:, 1])

    def describe(self) -> str:
        return "MLPClassifier(hidden_layer_sizes=(32,), sample_weight)"


# The trees of `--model xgboost` / `--model lightgbm`, the same for every method.
GBDT_PARAMS = {"xgboost": {"n_estimators": 150, "learning_rate": 0.1, "max_depth": 4},
               "lightgbm": {"n_estimators": 150, "learning_rate": 0.05, "params": {"num_leaves": 15}}}


class GBDTModel:
    """Gradient-boosted trees trained on the method's loss through wce's own objectives:
    :class:`wce.xgboost.WeightedXGBClassifier` / :class:`wce.lightgbm.WeightedLGBMClassifier`
    with ``loss="cross_entropy"`` (weighted CE: the method's sample weights), ``"focal"``
    (``gamma``) or ``"cost_sensitive"`` (the cost matrix), and the class-balanced loss as its
    ``class_weight``. Every method, plain CE included, trains the same booster from the start
    that minimises its loss, so differences come from the loss alone."""

    def __init__(self, name: str, seed: int):
        self.name, self.seed = name, seed

    def fit(self, X: np.ndarray, y: np.ndarray, plan) -> "GBDTModel":
        if plan.gbdt is None:
            raise ValueError(f"{plan.loss.__name__} has no objective in wce.{self.name}; use --model logreg.")
        kwargs = dict(plan.gbdt)
        if self.name == "lightgbm":
            from ..lightgbm import WeightedLGBMClassifier as cls
        else:
            from ..xgboost import WeightedXGBClassifier as cls
        self.model = cls(**kwargs, **GBDT_PARAMS[self.name], n_jobs=1, random_state=self.seed)
        weights = plan.sample_weight if kwargs.get("loss") == "cross_entropy" and "class_weight" not in kwargs \
            else None
        if weights is not None and np.all(weights == weights[0]):
            weights = None  # plain CE
        self.model.fit(X, y.astype(np.int64), sample_weight=weights)
        self._sample_weighted = weights is not None
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        z = np.asarray(self.model.decision_function(X), dtype=np.float64)  # margins, start included
        return z if z.ndim == 1 else z[:, 1] - z[:, 0]  # softmax margins (cost-sensitive): the log-odds

    def describe(self) -> str:
        """The fitted estimator and its loss, e.g. ``WeightedXGBClassifier(loss='focal', gamma=2.0)``."""
        params = self.model.get_params(deep=False)
        keys = ["loss"] + {"focal": ["gamma"], "cost_sensitive": ["cost_matrix"]}.get(params["loss"], [])
        if params.get("class_weight") is not None:
            keys.append("class_weight")
        text = ", ".join(f"{k}={params[k]!r}" for k in keys)
        return f"{type(self.model).__name__}({text}{', sample_weight' if self._sample_weighted else ''})"


class TorchMLP:
    """One hidden layer of 32 ReLU units, full-batch Adam on the method's :mod:`wce.torch` loss."""

    def __init__(self, seed: int, *, epochs: int = 300, lr: float = 0.01, weight_decay: float = 1e-4):
        self.seed, self.epochs, self.lr, self.weight_decay = seed, epochs, lr, weight_decay

    def fit(self, X: np.ndarray, y: np.ndarray, plan) -> "TorchMLP":
        torch = _optional.require("torch")
        wce_torch = importlib.import_module("wce.torch")
        loss_fn = getattr(wce_torch, plan.loss.__name__)
        torch.manual_seed(self.seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
        Xt = torch.as_tensor(X, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.long if plan.two_column else torch.float32)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            z = self.net(Xt)[:, 0]
            logits = torch.stack([torch.zeros_like(z), z], dim=1) if plan.two_column else z
            loss = loss_fn(logits, yt, reduction=plan.reduction, **plan.loss_kwargs)
            loss.backward()
            optimizer.step()
        self.loss_ = _loss_text(plan)
        return self

    def describe(self) -> str:
        return f"TorchMLP(hidden=32, loss=wce.torch.{self.loss_})"

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        torch = _optional.require("torch")
        with torch.no_grad():
            return self.net(torch.as_tensor(X, dtype=torch.float32))[:, 0].double().numpy()


def check_model(name: str) -> None:
    """Refuse an unknown or uninstalled model before anything is written."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}. Known: {', '.join(MODELS)}.")
    _optional.require(_REQUIRES[name], purpose=f"--model {name}")


def unsupported_reason(model: str, method) -> str | None:
    """Why ``method`` cannot run with ``model`` (None if it can)."""
    if model in ("logreg", "torch-mlp"):
        return None
    if model in ("lightgbm", "xgboost"):
        if method.loss == "logit_adjusted":
            return (f"method {method.name!r} (logit adjustment) has no objective in wce.{model}; "
                    "use --model logreg")
        return None
    if method.loss in ("focal", "logit_adjusted"):
        return (f"method {method.name!r} needs a custom loss that model {model!r} cannot take as "
                "sample weights; use --model logreg")
    return None


def recalibration_metrics(name, seed: int, *, C: float, method, options, X_train: np.ndarray,
                          y_train: np.ndarray, y_test: np.ndarray, z_test: np.ndarray, resample,
                          make=None) -> dict:
    """Brier/ECE after Platt and isotonic recalibration fitted inside the training fold.

    The training fold (scaled, not resampled) is split 75/25, stratified; the method
    trains on the 75% (after ``resample(method, X, y, options, seed)``), its logits on
    the untouched 25% fit the calibration maps, which are applied to ``z_test``, the
    test logits of the model trained on the whole fold. The 25% keeps the class ratio
    of the data, so the maps learn the true prior rather than the weighted one.
    ``make()`` returns a fresh model (default ``make_model(name, seed, C=C)``).
    See :func:`wce.experiments.metrics.recalibrated_metrics`.
    """
    from sklearn.model_selection import StratifiedShuffleSplit

    from .metrics import RECALIBRATED_METRICS, recalibrated_metrics

    try:
        inner = StratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=seed)
        a, b = next(inner.split(X_train, y_train))
        X_a, y_a = resample(method, X_train[a], y_train[a], options, seed)
        model = (make() if make is not None else make_model(name, seed, C=C)).fit(X_a, y_a, method.plan(y_a, options))
    except ValueError:  # too few minority rows for an inner split (or for SMOTE on it)
        return dict.fromkeys(RECALIBRATED_METRICS, float("nan"))
    return recalibrated_metrics(y_train[b], model.decision_function(X_train[b]), y_test, z_test)


def make_model(name: str, seed: int, *, C: float = 1.0):
    if name == "logreg":
        return LinearModel(C=C)
    if name == "torch-mlp":
        return TorchMLP(seed)
    if name in ("lightgbm", "xgboost"):
        return GBDTModel(name, seed)
    return SampleWeightModel(name, seed)

