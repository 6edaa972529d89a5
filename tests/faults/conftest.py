"""The fault suite: a few seeded trials per fault kind by default (CI), many with --long.

    pytest tests/faults            # the small fixed budget
    pytest tests/faults --long     # many more trials (GITDATA_FAULT_TRIALS=N overrides both)
"""
from __future__ import annotations

import os

import pytest

SHORT_TRIALS = 2
LONG_TRIALS = 25


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        parser.addoption("--long", action="store_true", default=False,
                         help="fault suite: run many more seeded trials per fault kind")
    except ValueError:  # registered already (conftest loaded twice)
        pass


def trial_count(config: pytest.Config, short: int = SHORT_TRIALS) -> int:
    if os.environ.get("GITDATA_FAULT_TRIALS"):
        return int(os.environ["GITDATA_FAULT_TRIALS"])
    return LONG_TRIALS if config.getoption("--long", default=False) else short


@pytest.fixture
def trials(request: pytest.FixtureRequest) -> int:
    return trial_count(request.config)
