"""pytest plugin (entry point ``pytest11``): profile and device options and fixtures.

``--trajcheck-profile`` (or $TRAJCHECK_PROFILE) chooses the search profile that tests
pass to the runner, ``ci`` when neither is set; ``--trajcheck-device`` the device. Neither
touches Hypothesis's own settings profiles, so $CI still selects Hypothesis's ``ci``.
"""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest
import torch

from trajcheck.devices import DEVICES, DeviceUnavailable, resolve_device
from trajcheck.profiles import PROFILE_VARIABLE, PROFILES, Profile, get_profile


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("trajcheck")
    group.addoption(
        "--trajcheck-profile",
        default=os.environ.get(PROFILE_VARIABLE, "ci"),
        choices=sorted(PROFILES),
        help=f"search profile for claim tests (default: ${PROFILE_VARIABLE} or ci)",
    )
    group.addoption(
        "--trajcheck-device",
        default="cpu",
        choices=DEVICES,
        help="device for claim tests; cuda skips them with a reason where there is none",
    )


@pytest.fixture(scope="session")
def trajcheck_profile(request: pytest.FixtureRequest) -> Profile:
    return get_profile(request.config.getoption("--trajcheck-profile"))


@pytest.fixture(scope="session")
def trajcheck_device(request: pytest.FixtureRequest) -> torch.device:
    try:
        return resolve_device(request.config.getoption("--trajcheck-device"))
    except DeviceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def trajcheck_session(request: pytest.FixtureRequest) -> int:
    """The test session's key for the draws its searches share (a family's census,
    ``trajcheck.modes.census``): the same in every pytest-xdist worker of the session,
    which hands its workers one test-run id."""
    worker = getattr(request.config, "workerinput", None)
    run_id = worker["testrunuid"] if worker else uuid.uuid4().hex
    return int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:4], "little")


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"trajcheck: profile {config.getoption('--trajcheck-profile')}, "
        f"device {config.getoption('--trajcheck-device')}"
    )
