"""scripts/install-torch.sh picks the torch build a user wants, checked with stand-ins for python, uname and
nvidia-smi."""
import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "install-torch.sh"

# A stand-in for `python -m pip install ...`: logs its arguments; `--no-index` succeeds only when a local
# wheel is said to exist.
FAKE_PYTHON = """#!/bin/sh
echo "$@" >> "$LOG"
case "$*" in *--no-index*) [ "$LOCAL_WHEEL" = 1 ] || exit 1 ;; esac
exit 0
"""


def _stub(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _run(tmp_path: Path, *, local_wheel: bool, gpu: bool, system: str = "Linux", env: dict | None = None):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(bin_dir, "fake-python", FAKE_PYTHON)
    _stub(bin_dir, "uname", f"#!/bin/sh\necho {system}\n")
    _stub(bin_dir, "nvidia-smi", "#!/bin/sh\necho 'GPU 0: NVIDIA H200'\n" if gpu else "#!/bin/sh\nexit 9\n")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# comment\ntorch==2.13.0\nnumpy==2.4.6\n")
    log = tmp_path / "pip.log"
    run_env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LOG": str(log), "LOCAL_WHEEL": "1" if local_wheel else "0",
               **(env or {})}
    done = subprocess.run(["sh", str(SCRIPT), str(bin_dir / "fake-python"), str(reqs)], env=run_env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [line.split() for line in log.read_text().splitlines()], done.stdout


def test_cpu_linux_gets_the_cpu_wheel_index(tmp_path):
    calls, out = _run(tmp_path, local_wheel=False, gpu=False)
    last = calls[-1]
    assert last[-1] == "torch==2.13.0" and "--no-deps" in last
    assert last[last.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    assert "CPU wheel index" in out


def test_a_wheel_the_machine_provides_is_used_without_the_network(tmp_path):
    calls, _ = _run(tmp_path, local_wheel=True, gpu=False)
    assert len(calls) == 1 and "--no-index" in calls[0] and "--index-url" not in calls[0]


@pytest.mark.parametrize("gpu, system", [(True, "Linux"), (False, "Darwin")])
def test_gpu_machines_and_other_systems_use_the_package_index(tmp_path, gpu, system):
    calls, _ = _run(tmp_path, local_wheel=False, gpu=gpu, system=system)
    assert "--index-url" not in calls[-1] and "--no-index" not in calls[-1] and calls[-1][-1] == "torch==2.13.0"


def test_torch_index_url_overrides_the_choice(tmp_path):
    url = "https://download.pytorch.org/whl/cu130"
    calls, _ = _run(tmp_path, local_wheel=True, gpu=False, env={"TORCH_INDEX_URL": url})
    assert len(calls) == 1 and calls[0][calls[0].index("--index-url") + 1] == url


def test_the_script_reads_the_pin_make_installs():
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch==")]
    assert pins == ["torch==2.13.0"]
    assert "scripts/install-torch.sh" in (ROOT / "Makefile").read_text()
    assert os.access(SCRIPT, os.X_OK)
