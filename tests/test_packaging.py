"""What `pip install .` and a source distribution ship: the package typed and licensed, the sdist complete."""
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_BUILD = """
import sys
from setuptools import build_meta
out = sys.argv[1]
sdist, wheel = build_meta.build_sdist(out), build_meta.build_wheel(out)
print("BUILT", sdist, wheel)
"""


def _tracked_files() -> list[str]:
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout to know which files the project tracks")
    return [name for name in listed.stdout.splitlines() if (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    # Built from a copy of the tracked files: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path_factory.mktemp("source")
    files = _tracked_files() + [name for name in ("plait/py.typed", "LICENSE", "MANIFEST.in") if (ROOT / name).exists()]
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-c", _BUILD, str(out)], cwd=source, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    sdist_name, wheel_name = done.stdout.split("BUILT ")[-1].split()
    return files, out / sdist_name, out / wheel_name, done.stderr


def test_the_wheel_is_the_package_typed_and_licensed(built):
    _, _, wheel, _ = built
    names = zipfile.ZipFile(wheel).namelist()
    assert "plait/py.typed" in names  # type checkers read plait's annotations
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "examples/")) for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "Requires-Dist: torch>=" in metadata and "Requires-Dist: numpy>=" in metadata


def test_the_sdist_holds_everything_the_tests_need(built):
    files, sdist, _, _ = built
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        shipped = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    needed = [f for f in files if f.startswith(("tests/", "benchmarks/", "examples/", "scripts/", "plait/"))]
    needed += ["LICENSE", "Makefile", "requirements.txt", "README.md", "pyproject.toml"]
    missing = sorted(set(needed) - shipped)
    assert not missing, f"{top} lacks {missing[:10]}"


def test_the_build_raises_no_deprecation_about_the_metadata(built):
    *_, log = built
    assert "project.license" not in log and "SetuptoolsDeprecationWarning" not in log, log[-2000:]
