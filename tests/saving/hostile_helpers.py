"""Crafting hostile `.plait` and `.safetensors` files, and loading them in a fresh process to measure what it costs.

Shared by the test_hostile_*.py and test_saving_hostile.py files (not a test module itself).
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
from typing import Any, Callable

from plait.saving.archive import write_archive


def members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rewrite(path, out, **changes) -> str:
    """A copy of the .plait file `path` at `out` with members replaced (`config__json=b"..."`) or dropped (None)."""
    content = members(path)
    for name, value in changes.items():
        name = name.replace("__", ".")
        if value is None:
            content.pop(name, None)
        else:
            content[name] = value
    write_archive(out, [(n, v, True) for n, v in content.items()])
    return str(out)


def config_of(path) -> dict:
    return json.loads(members(path)["config.json"])


def with_config(path, out, edit: Callable[[dict], Any]) -> str:
    """A copy of `path` whose config.json went through `edit` (which changes the dict in place)."""
    config = config_of(path)
    edit(config)
    return rewrite(path, out, config__json=json.dumps(config).encode())


def safetensors_bytes(header: dict, data: bytes = b"") -> bytes:
    """Raw safetensors bytes with whatever header the test wants (nothing is checked)."""
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def patch_directory(path, member: str, **fields: int) -> None:
    """Overwrites sizes in `member`'s central directory entry in place (the local header keeps the truth):
    `compress_size=`, `file_size=` (what a lying zip header says)."""
    data = bytearray(open(path, "rb").read())
    name = member.encode()
    at = 0
    while True:
        at = data.index(b"PK\x01\x02", at)
        name_len = int.from_bytes(data[at + 28:at + 30], "little")
        if data[at + 46:at + 46 + name_len] == name:
            break
        at += 4
    offsets = {"compress_size": 20, "file_size": 24}
    for field, value in fields.items():
        data[at + offsets[field]:at + offsets[field] + 4] = value.to_bytes(4, "little")
    open(path, "wb").write(bytes(data))


def write_deflated_member(out, base_members: dict[str, bytes], name: str, chunks: Callable[[], Any]) -> str:
    """A .plait file with `base_members` and member `name` written deflated from the byte chunks `chunks()`
    yields (so a test can make a member of hundreds of megabytes without holding it)."""
    with zipfile.ZipFile(out, "w", allowZip64=True) as archive:
        for member, content in base_members.items():
            if member != name:
                archive.writestr(member, content, compress_type=zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as stream:
            for chunk in chunks():
                stream.write(chunk)
    return str(out)


LOADER = textwrap.dedent("""
    import json, os, resource, sys, time
    import plait
    from plait.saving import FormatError

    def peak_mib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux

    warm, calls = sys.argv[1], json.loads(sys.argv[2])
    plait.load_model(warm)  # first load: lazy imports and caches, so they are not counted below
    base = peak_mib()
    before = {name for name in ("torch.onnx", "torch._dynamo", "torch._inductor", "torch._export")
              if name in sys.modules}
    results = []
    for kind, path in calls:
        start = time.perf_counter()
        try:
            if kind == "model":
                plait.load_model(path)
            else:
                model = plait.load_model(warm, compile=False)
                model.load_weights(path)
            outcome = "loaded"
        except FormatError as err:
            outcome = "FormatError: " + str(err)[:300]
        except Exception as err:
            outcome = type(err).__name__ + ": " + str(err)[:300]
        results.append({"path": path, "outcome": outcome, "seconds": time.perf_counter() - start,
                        "peak_mib_over_base": peak_mib() - base})
    after = {name for name in ("torch.onnx", "torch._dynamo", "torch._inductor", "torch._export")
             if name in sys.modules}
    print(json.dumps({"results": results, "imported": sorted(after - before)}))
""")


def load_in_fresh_process(warm: str, calls: list[tuple[str, str]], timeout: float = 240) -> dict:
    """Loads each `(kind, path)` ('model' or 'weights') in a new Python after one good load of `warm`; returns
    each outcome with its time and the process's peak memory over the peak after the good load, and the lazy
    torch submodules imported meanwhile."""
    env = dict(os.environ, PLAIT_DEVICE="cpu", PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-c", LOADER, str(warm), json.dumps(calls)], capture_output=True,
                          text=True, timeout=timeout, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
