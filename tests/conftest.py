"""Shared fixtures and Hypothesis settings for the test suite."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from inspection_flow import ChinaCalendar

# The suite runs on small machines: modest example counts by default, more on demand
# with HYPOTHESIS_PROFILE=thorough.  No per-example deadline: a loaded machine must not
# turn a slow example into a failure.
settings.register_profile(
    "quick",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


@pytest.fixture(scope="session")
def calendar() -> ChinaCalendar:
    """The national calendar, refusing unpublished years."""
    return ChinaCalendar()


@pytest.fixture(scope="session")
def weekends_calendar() -> ChinaCalendar:
    """The national calendar, computing past the published years with weekends only."""
    return ChinaCalendar(unpublished="weekends")
