"""SIGKILL a training process mid-epoch, restart it, and get bit-for-bit the result of an uninterrupted run."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest
import torch

from plait.saving import safetensors_format

CHILD = os.path.join(os.path.dirname(__file__), "backup_child.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def _start(workdir, *args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "PLAIT_DEVICE": "cpu",
           "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, CHILD, str(workdir), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_line(process: subprocess.Popen, expected: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            line = process.stdout.readline()
            if line.strip() == expected:
                return
            if not line and process.poll() is not None:
                break
    process.kill()
    raise AssertionError(f"the child never printed {expected!r}; stderr:\n{process.stderr.read()[-3000:]}")


def _finish(process: subprocess.Popen) -> None:
    out, err = process.communicate(timeout=90)
    assert process.returncode == 0 and "DONE" in out, err[-3000:]


def _result(workdir):
    tensors, metadata = safetensors_format.load_file(os.path.join(workdir, "result.safetensors"))
    return tensors, json.loads(metadata["history"]), json.loads(metadata["epochs"])


def test_sigkill_mid_epoch_then_resume_is_bit_for_bit(tmp_path):
    # The victim backs up every 2 batches (the in-process tests cover save_freq='epoch' too), pauses after batch 2
    # of epoch 2 (0-based, of 5) and is killed there; the reference runs uninterrupted alongside it.
    reference_dir, victim_dir = tmp_path / "reference", tmp_path / "victim"
    reference_dir.mkdir()
    victim_dir.mkdir()
    reference = _start(reference_dir, 2)
    victim = _start(victim_dir, 2, 2, 2)
    _wait_for_line(victim, "PAUSED")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    assert os.listdir(victim_dir / "backup") == ["latest.backup.safetensors"]
    resumed = _start(victim_dir, 2)
    _finish(reference)
    _finish(resumed)
    expected, got = _result(reference_dir), _result(victim_dir)
    assert expected[0].keys() == got[0].keys()
    for key in expected[0]:
        assert torch.equal(expected[0][key], got[0][key]), key  # weights and optimizer state, bit for bit
    assert got[1] == expected[1] and got[2] == expected[2] == [0, 1, 2, 3, 4]  # the History
    assert not (victim_dir / "backup").exists()
