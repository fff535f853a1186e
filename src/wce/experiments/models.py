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
* ``lightgbm`` / ``xgboost``: gradient-boosted trees, weighting through sample
  weights; focal loss through the custom objectives of :mod:`wce.lightgbm` /
  :mod:`wce.xgboost` (``WeightedLGBMClassifier(loss="focal")``). Logit
  adjustment has no sample-weight form and is unsupported for them.
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

    def __init__(self, *, C: float = 1.0, max_iter: int = 500, tol: float = 1e-7):
        self.C, self.max_iter, self.tol = C, max_iter, tol

    def objective(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray, plan) -> tuple:
        """``(loss + L2 penalty, gradient)`` at ``theta = [w, b]``."""
        n, d = X.shape
        lam = 1.0 / (self.C * n)
        w, b = theta[:d], theta[d]
        z = X @ w + b
        if plan.two_column:
            # softmax([0, z])[1] = sigmoid(z): the softmax losses on a binary linear model.
            value, g = value_and_grad(plan.loss, np.column_stack([np.zeros(n), z]), y.astype(np.int64),
                                      reduction=plan.reduction, **plan.loss_kwargs)
            gz = g[:, 1]  # column 0 is the constant 0
        else:
            value, gz = value_and_grad(plan.loss, z, y.astype(np.float64), reduction=plan.reduction,
                                       **plan.loss_kwargs)
        value = float(value) + 0.5 * lam * float(w @ w)
        return value, np.concatenate([X.T @ gz + lam * w, [gz.sum()]])

    def fit(self, X: np.ndarray, y: np.ndarray, plan) -> "LinearModel":
        from scipy.optimize import minimize

        result = minimize(self.objective, np.zeros(X.shape[1] + 1), args=(X, y, plan), jac=True,
                          method="L-BFGS-B", options={"maxiter": self.max_iter, "gtol": self.tol, "ftol": 1e-12})
        self.coef_, self.intercept_ = result.x[:-1], float(result.x[-1])
        self.n_iter_ = int(result.nit)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef_ + self.intercept_


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1.0 - 1e-12)
    return np.log(p) - np.log1p(-p)


class SampleWeightModel:
    """A scikit-learn-style classifier weighted through ``fit(sample_weight=...)``."""

    def __init__(self, name: str, seed: int):
        self.name, self.seed = name, seed
        if name == "mlp":
            from sklearn.neural_network import MLPClassifier

            self.model = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=seed)
        elif name == "lightgbm":
            lgb = _optional.require("lightgbm")
            self.model = lgb.LGBMClassifier(n_estimators=150, learning_rate=0.05, num_leaves=15,
                                            random_state=seed, n_jobs=1, verbose=-1)
        else:
            xgb = _optional.require("xgboost")
            self.model = xgb.XGBClassifier(n_estimators=150, learning_rate=0.1, max_depth=4,
                                           random_state=seed, n_jobs=1)

    def fit(self, X: np.ndarray, y: np.ndarray, plan) -> "SampleWeightModel":
        if plan.sample_weight is None:  # focal: the wce custom objective
            self.model = _focal_gbdt(self.name, self.seed, plan.loss_kwargs["gamma"])
        self.model.fit(X, y.astype(np.int64), sample_weight=plan.sample_weight)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        if hasattr(self.model, "objective_"):  # wce.lightgbm / wce.xgboost: margins, start included
            return self.model.decision_function(X)
        if self.name == "lightgbm":
            return self.model.predict(X, raw_score=True)
        if self.name == "xgboost":
            return self.model.predict(X, output_margin=True)
        return _logit(self.model.predict_proba(X)[:, 1])


def _focal_gbdt(name: str, seed: int, gamma: float):
    if name == "lightgbm":
        from ..lightgbm import WeightedLGBMClassifier

        return WeightedLGBMClassifier(loss="focal", gamma=gamma, n_estimators=150, learning_rate=0.05,
                                      n_jobs=1, random_state=seed, params={"num_leaves": 15})
    from ..xgboost import WeightedXGBClassifier

    return WeightedXGBClassifier(loss="focal", gamma=gamma, n_estimators=150, learning_rate=0.1, max_depth=4,
                                 n_jobs=1, random_state=seed)


def _has_focal_objective(model: str) -> bool:
    try:
        importlib.import_module(f"wce.{model}")
    except ImportError:
        return False
    return True


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
        return self

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
    if method.loss == "focal" and model in ("lightgbm", "xgboost") and _has_focal_objective(model):
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
    return SampleWeightModel(name, seed)

