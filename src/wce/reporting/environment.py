"""The machine and library versions a report was produced with."""

from __future__ import annotations

import os
import platform
import sys


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def environment(packages=("numpy", "scipy", "sklearn"), *, if_imported=("imblearn", "lightgbm", "xgboost")) -> dict:
    """Python, platform, CPU and the versions of ``packages`` (imported here) and of the
    ``if_imported`` packages a run has already imported (never imported here)."""
    import importlib

    info = {"python": sys.version.split()[0], "platform": platform.platform(), "cpu": cpu_model(),
            "cpu_count": os.cpu_count()}
    for name in packages:
        info[_LABELS.get(name, name)] = importlib.import_module(name).__version__
    for name in if_imported:
        module = sys.modules.get(name)
        if module is not None:
            info[_LABELS.get(name, name)] = module.__version__
    return info


_LABELS = {"sklearn": "scikit-learn"}
