"""Shared test settings: a fast hypothesis profile and a few small fixtures."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# No deadline (the machine is shared and noisy); few examples so the suite stays fast.
# HYPOTHESIS_PROFILE=thorough runs many more examples locally.
settings.register_profile(
    "wce",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile("thorough", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "wce"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "mirrors(name): the check of one row of docs/same-names.md (wce name)")
