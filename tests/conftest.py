"""Test-suite settings shared by every test."""
import os

import pytest
import torch

from plait.utils import progbar as progbar_module

# pytest-xdist runs one worker per core; torch's own intra-op threads on top of that oversubscribe the
# cores and make the many tiny ops in these tests 10x slower. One thread per worker is the fast setting.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


class FakeClock:
    """A clock the tests move by hand, so the progress bar's rate limiting and timings are deterministic."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(progbar_module, "_clock", fake)
    return fake
