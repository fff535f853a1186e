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
  weights. Losses without an exact sample-weight form (focal, logit
  adjustment) use the custom objectives of :mod:`wce.lightgbm` /
  :mod:`wce.xgboost` when those modules exist, else the pair is unsupported.
"""

from __future__ import annotations

import numpy as np

from .. import _optional
from ..losses import value_and_grad

MODELS = ("logreg", "mlp", "lightgbm", "xgboost")
_REQUIRES = {"logreg": "scipy.optimize", "mlp": "sklearn.neural_network", "lightgbm": "lightgbm",
             "xgboost": "xgboost"}


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
        self.model.fit(X, y.astype(np.int64), sample_weight=plan.sample_weight)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        if self.name == "lightgbm":
            return self.model.predict(X, raw_score=True)
        if self.name == "xgboost":
            return self.model.predict(X, output_margin=True)
        return _logit(self.model.predict_proba(X)[:, 1])


def check_model(name: str) -> None:
    """Refuse an unknown or uninstalled model before anything is written."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}. Known: {', '.join(MODELS)}.")
    _optional.require(_REQUIRES[name], purpose=f"--model {name}")


def unsupported_reason(model: str, method) -> str | None:
    """Why ``method`` cannot run with ``model`` (None if it can)."""
    if model == "logreg":
        return None
    if method.loss in ("focal", "logit_adjusted"):
        return (f"method {method.name!r} needs a custom loss that model {model!r} cannot take as "
                "sample weights; use --model logreg")
    return None


def make_model(name: str, seed: int, *, C: float = 1.0):
    if name == "logreg":
        return LinearModel(C=C)
    return SampleWeightModel(name, seed)

