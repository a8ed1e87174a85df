"""The benchmarks' own virtual environment for peer frameworks (Keras on JAX/torch, TensorFlow, scikit-learn).

Peers are never plait dependencies: they go into `benchmarks/.venv-peers`, created on first use. plait's
numbers come from the interpreter running the benchmark; peer numbers from subprocesses in that venv.
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent
VENV = ROOT / ".venv-peers"
REPO = ROOT.parent
# torch stays on the pinned CPU build (an unpinned torch pulls CUDA wheels); the rest are the peers.
PEER_PACKAGES = ["torch==2.13.0", "numpy", "scikit-learn", "keras", "jax", "jaxlib", "tensorflow-cpu"]


def peer_python(packages: list[str] | None = None) -> str:
    """Path of the peers' interpreter, creating the venv and installing `packages` the first time."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    wanted = " ".join(packages or PEER_PACKAGES)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *(packages or PEER_PACKAGES)], check=True)
        stamp.write_text(wanted)
    return str(python)


def run_peer(script: str, *args: str, env: dict[str, str] | None = None, timeout: int = 1800) -> str:
    """Runs `script` (a path under benchmarks/) with the peers' interpreter; returns its stdout."""
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
    done = subprocess.run([peer_python(), str(ROOT / script), *args], env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"peer script {script} failed:\n{done.stderr[-4000:]}")
    return done.stdout
