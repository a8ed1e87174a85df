"""Test-suite settings shared by every test."""
import os

import torch

# pytest-xdist runs one worker per core; torch's own intra-op threads on top of that oversubscribe the
# cores and make the many tiny ops in these tests 10x slower. One thread per worker is the fast setting.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
