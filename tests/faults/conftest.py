"""The fault suite: a few seeded trials per fault kind by default (CI), many with --long.

    pytest tests/faults            # the small fixed budget
    pytest tests/faults --long     # many more trials (GITDATA_FAULT_TRIALS=N overrides both)
"""
from __future__ import annotations

import os

import pytest

SHORT_TRIALS = 2
LONG_TRIALS = 25
# read now: the suite's autouse fixture clears every GITDATA_* variable before each test
FIXED_TRIALS = os.environ.get("GITDATA_FAULT_TRIALS")


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        parser.addoption("--long", action="store_true", default=False,
                         help="fault suite: run many more seeded trials per fault kind")
    except ValueError:  # registered already (conftest loaded twice)
        pass


def trial_count(config: pytest.Config, short: int = SHORT_TRIALS) -> int:
    if FIXED_TRIALS:
        return int(FIXED_TRIALS)
    return LONG_TRIALS if config.getoption("--long", default=False) else short


@pytest.fixture
def trials(request: pytest.FixtureRequest) -> int:
    return trial_count(request.config)
