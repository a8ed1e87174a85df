"""Test-suite settings shared by every test."""
import os
import tempfile

import pytest
import torch
from _pytest.doctest import DoctestModule

# The numeric references are computed on the CPU, so the suite keeps plait's default device there on a machine
# with a GPU too (`make test` passes on both); CUDA paths are tested by the tests that ask for "cuda" by name.
# PLAIT_DEVICE=cuda runs everything on the GPU instead.
os.environ.setdefault("PLAIT_DEVICE", "cpu")

from plait.utils import progbar as progbar_module  # noqa: E402 - after PLAIT_DEVICE is settled

# pytest-xdist runs one worker per core; torch's own intra-op threads on top of that oversubscribe the
# cores and make the many tiny ops in these tests 10x slower. One thread per worker is the fast setting.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

# torch.compile's on-disk cache does not key its C++ kernels on ATEN_CPU_CAPABILITY: a run forced to AVX2
# (as `make test-isa` does) then loads AVX-512 kernels built by the native run, or the other way round,
# which corrupts memory (seen with torch 2.13 on an AVX-512 Xeon). One cache per instruction set avoids it.
if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    _user = "".join(ch for ch in os.environ.get("USER", "") if ch.isalnum()) or str(os.getuid())
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(
        tempfile.gettempdir(), f"torchinductor_{_user}_{torch.backends.cpu.get_cpu_capability().lower()}")


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    # --doctest-modules (pyproject.toml) is for plait/'s docstrings. Under tests/ it would import helper modules
    # that are not test files (backup_child.py sets torch's thread count on import) for no examples at all.
    collected = yield
    return [c for c in collected if not isinstance(c, DoctestModule)]


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
