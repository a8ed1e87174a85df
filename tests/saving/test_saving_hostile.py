"""Hostile and damaged files: refused with plait's FormatError, and nothing named by the file is ever run."""
from __future__ import annotations

import json
import os
import pickle
import sys
import time
import zipfile

import numpy as np
import pytest
import torch
from hostile_helpers import config_of, members, rewrite

import plait
from plait.saving import FormatError, model_io

CANARY_MODULE = "plait_issue5_canary"


@pytest.fixture()
def saved(tmp_path):
    plait.set_random_seed(0)
    model = plait.Sequential([plait.layers.Dense(4, activation="relu", input_shape=(3,)), plait.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(np.ones((8, 3), "float32"), np.ones((8, 2), "float32"), epochs=1, verbose=0)
    path = tmp_path / "good.plait"
    model.save(path)
    return path


@pytest.fixture()
def canary(tmp_path, monkeypatch):
    """A module that, if anything imported it, would leave a marker file (and a sys.modules entry)."""
    marker = tmp_path / "canary_ran"
    package = tmp_path / "canary_pkg"
    package.mkdir()
    (package / f"{CANARY_MODULE}.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "def system(*a, **k):\n    pathlib.Path(" + repr(str(marker)) + ").write_text('called')\n"
        "class Evil:\n    pass\n")
    monkeypatch.syspath_prepend(str(package))
    yield marker
    assert CANARY_MODULE not in sys.modules
    assert not marker.exists()


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_is_refused_and_never_unpickled(saved, tmp_path):
    marker = tmp_path / "pickle_ran"
    payload = pickle.dumps(_Payload(marker))
    (tmp_path / "raw.plait").write_bytes(payload)
    with pytest.raises(FormatError, match="not a valid .plait"):
        plait.load_model(tmp_path / "raw.plait")
    for member in ("model.weights.safetensors", "config.json", "optimizer.safetensors"):
        evil = rewrite(saved, tmp_path / f"evil_{member}.plait", **{member.replace(".", "__"): payload})
        with pytest.raises(FormatError):
            plait.load_model(evil)
    torch.save(torch.nn.Linear(2, 2), tmp_path / "torch.plait")  # torch's own zip-of-pickles format
    with pytest.raises(FormatError, match="unexpected archive member"):
        plait.load_model(tmp_path / "torch.plait")
    with pytest.raises(FormatError):
        plait.saving.load_weights(plait.Sequential([plait.layers.Dense(2, input_shape=(2,))]),
                                  _write(tmp_path / "w.safetensors", payload))
    assert not marker.exists()


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_loading_never_calls_an_unpickler(saved, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("an unpickler was called while loading")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    model = plait.load_model(saved)
    model.load_weights(saved)


@pytest.mark.parametrize("edit", [
    lambda c: c.update(class_name="os.system", module="os"),
    lambda c: c.update(class_name=f"{CANARY_MODULE}.Evil", module=CANARY_MODULE),
    lambda c: c.update(class_name="Evil", module=CANARY_MODULE, registered_name=f"{CANARY_MODULE}>Evil"),
    lambda c: c["config"]["layers"][0].update(class_name="system", module="os"),
    lambda c: c["config"]["layers"][0].update(class_name=f"{CANARY_MODULE}.Evil", module=CANARY_MODULE),
    lambda c: c["config"]["layers"][0]["config"].update(activation=f"{CANARY_MODULE}.system"),
    lambda c: c["config"]["layers"][0]["config"].update(
        activation={"class_name": "function", "config": "system", "module": "os", "registered_name": "os>system"}),
    lambda c: c["config"]["layers"][0]["config"].update(
        kernel_initializer={"class_name": "Evil", "module": CANARY_MODULE, "config": {}}),
    lambda c: c["compile_config"].update(loss={"class_name": "system", "module": "os", "config": {}}),
    lambda c: c["compile_config"].update(metrics=[{"class_name": "Evil", "module": CANARY_MODULE, "config": {}}]),
    lambda c: c["compile_config"].update(optimizer={"class_name": "system", "module": "os", "config": {}}),
    lambda c: c["compile_config"].update(loss={"class_name": "LossFunctionWrapper", "config": {"fn": "os.system"}}),
    lambda c: c["config"]["layers"][0].update(class_name="eval", config={"source": "__import__('os')"}),
])
def test_a_class_path_in_the_file_is_refused_and_nothing_is_imported(saved, tmp_path, canary, edit):
    config = config_of(saved)
    edit(config)
    evil = rewrite(saved, tmp_path / "evil.plait", config__json=json.dumps(config).encode())
    with pytest.raises(FormatError) as info:
        plait.load_model(evil)
    assert isinstance(info.value, ValueError)


def test_the_refusal_says_how_to_allow_your_own_class(saved, tmp_path):
    config = config_of(saved)
    config["config"]["layers"][0]["class_name"] = "MyLayer"
    evil = rewrite(saved, tmp_path / "custom.plait", config__json=json.dumps(config).encode())
    with pytest.raises(FormatError, match=r"register_serializable.*custom_objects=\{'MyLayer': MyLayer\}"):
        plait.load_model(evil)


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "a/../../evil", "..\\evil", "C:/evil", "x\x00y"])
def test_a_traversal_or_absolute_member_is_refused(saved, tmp_path, name):
    content = members(saved)
    out = tmp_path / "traversal.plait"
    with zipfile.ZipFile(out, "w") as archive:
        for member, data in content.items():
            archive.writestr(member, data)
        archive.writestr(zipfile.ZipInfo(name), b"pwned")
    with pytest.raises(FormatError, match="refusing archive member|unexpected"):
        plait.load_model(out)
    assert not (tmp_path.parent / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_duplicate_unknown_and_missing_members_are_refused(saved, tmp_path):
    content = members(saved)
    out = tmp_path / "dup.plait"
    with zipfile.ZipFile(out, "w") as archive:
        for member, data in content.items():
            archive.writestr(member, data)
        with pytest.warns(UserWarning, match="Duplicate"):
            archive.writestr("config.json", b"{}")
    with pytest.raises(FormatError, match="twice"):
        plait.load_model(out)
    with pytest.raises(FormatError, match="unexpected archive member 'run.py'"):
        plait.load_model(rewrite(saved, tmp_path / "extra.plait", run__py=b"import os"))
    with pytest.raises(FormatError, match="lacks"):
        plait.load_model(rewrite(saved, tmp_path / "missing.plait", config__json=None))


def test_oversize_members_are_refused_without_reading_them(saved, tmp_path, monkeypatch):
    bomb = json.dumps({"pad": " " * (5 << 20)}).encode()  # deflates to a few KB
    out = rewrite(saved, tmp_path / "bomb.plait", config__json=bomb)
    assert os.path.getsize(out) < 100_000
    monkeypatch.setitem(model_io._LIMITS, "config.json", 1 << 20)
    with pytest.raises(FormatError, match="over its limit"):
        plait.load_model(out)


def test_truncated_files_and_bad_crcs_are_refused(saved, tmp_path):
    data = saved.read_bytes()
    for cut in (0, 10, 22, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1):
        (tmp_path / "cut.plait").write_bytes(data[:cut])
        with pytest.raises(FormatError):
            plait.load_model(tmp_path / "cut.plait")
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("model.weights.safetensors")
        assert info.compress_type == zipfile.ZIP_STORED
    name_len = len(info.filename.encode())
    extra = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra
    flipped = bytearray(data)
    flipped[start + info.file_size - 1] ^= 0xFF  # last weight byte: the CRC no longer matches
    (tmp_path / "crc.plait").write_bytes(bytes(flipped))
    with pytest.raises(FormatError, match="damaged"):
        plait.load_model(tmp_path / "crc.plait")


def test_malformed_zip_headers_are_refused(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    local = data.find(b"PK\x03\x04")
    broken = bytearray(data)
    broken[local:local + 4] = b"XX\x03\x04"
    (tmp_path / "local.plait").write_bytes(bytes(broken))
    central = data.find(b"PK\x01\x02")
    broken = bytearray(data)
    broken[central + 28:central + 30] = (60000).to_bytes(2, "little")  # a file name length past the end
    (tmp_path / "central.plait").write_bytes(bytes(broken))
    for name in ("local.plait", "central.plait"):
        with pytest.raises(FormatError):
            plait.load_model(tmp_path / name)
    with pytest.raises(FormatError, match="directory"):
        plait.load_model(tmp_path)
    with pytest.raises(FileNotFoundError):
        plait.load_model(tmp_path / "absent.plait")


def test_encrypted_and_exotic_compression_are_refused(saved, tmp_path):
    content = members(saved)
    out = tmp_path / "bz.plait"
    with zipfile.ZipFile(out, "w") as archive:
        for member, data in content.items():
            archive.writestr(member, data, compress_type=zipfile.ZIP_BZIP2)
    with pytest.raises(FormatError, match="compression method"):
        plait.load_model(out)
    data = bytearray(saved.read_bytes())
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x1  # "encrypted" flag in the central directory
    (tmp_path / "enc.plait").write_bytes(bytes(data))
    with pytest.raises(FormatError, match="encrypted"):
        plait.load_model(tmp_path / "enc.plait")


def test_metadata_is_checked(saved, tmp_path):
    newer = json.dumps({"format": "plait.model", "format_version": 99, "plait_version": "9.0"}).encode()
    with pytest.raises(FormatError, match="format 99.*Upgrade plait"):
        plait.load_model(rewrite(saved, tmp_path / "newer.plait", metadata__json=newer))
    other = json.dumps({"keras_version": "3.16.0"}).encode()
    with pytest.raises(FormatError, match="does not describe a plait model"):
        plait.load_model(rewrite(saved, tmp_path / "keras.plait", metadata__json=other))
    with pytest.raises(FormatError, match="not valid JSON"):
        plait.load_model(rewrite(saved, tmp_path / "bad.plait", metadata__json=b"\xff{"))
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(FormatError, match="not valid JSON"):
        plait.load_model(rewrite(saved, tmp_path / "deep.plait", config__json=deep))


def test_weights_that_do_not_fit_the_config_are_refused(saved, tmp_path):
    other = plait.Sequential([plait.layers.Dense(5, input_shape=(3,)), plait.layers.Dense(2)])
    other.save_weights(tmp_path / "o.weights.safetensors")
    evil = rewrite(saved, tmp_path / "mismatch.plait",
                    model__weights__safetensors=(tmp_path / "o.weights.safetensors").read_bytes())
    evil_path = tmp_path / "mismatch2.plait"
    os.replace(evil, evil_path)
    with pytest.raises(FormatError, match=r"shape \(3, 4\) in the model but \(3, 5\)"):
        plait.load_model(evil_path)


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 8))):
        kind, pos = int(rng.integers(0, 4)), int(rng.integers(0, len(out)))
        if kind == 0:
            out[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:
            del out[pos:pos + int(rng.integers(1, 64))]
        elif kind == 2:
            out[pos:pos] = rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8).tobytes()
        else:
            del out[pos:]
        if not out:
            break
    return bytes(out)


def _json_mutations(config: dict, rng: np.random.Generator) -> dict:
    """Structural edits of the config: values replaced by other small JSON values, keys dropped."""
    replacements = [None, -1, 0, 1, 2.5, "x", "dense", [], {}, [1, 2], {"class_name": "Dense"}, True, "relu"]

    def walk(node, depth=0):
        if isinstance(node, dict) and node:
            key = list(node)[int(rng.integers(0, len(node)))]
            roll = rng.random()
            if roll < 0.2:
                del node[key]
            elif roll < 0.6 or depth > 6:
                node[key] = replacements[int(rng.integers(0, len(replacements)))]
            else:
                walk(node[key], depth + 1)
        elif isinstance(node, list) and node:
            i = int(rng.integers(0, len(node)))
            if rng.random() < 0.5 and depth <= 6:
                walk(node[i], depth + 1)
            else:
                node[i] = replacements[int(rng.integers(0, len(replacements)))]

    for _ in range(int(rng.integers(1, 4))):
        walk(config)
    return config


def test_fuzz_random_and_mutated_files_only_raise_format_error(saved, tmp_path, canary):
    rng = np.random.default_rng(20240605)
    good = saved.read_bytes()
    config_text = config_of(saved)
    target = tmp_path / "fuzz.plait"
    start, count, outcomes = time.perf_counter(), 0, {"refused": 0, "loaded": 0}
    while count < 300 and time.perf_counter() - start < 12:
        count += 1
        mode = count % 3
        if mode == 0:
            target.write_bytes(rng.integers(0, 256, int(rng.integers(0, 2048)), dtype=np.uint8).tobytes())
        elif mode == 1:
            target.write_bytes(_mutate(good, rng))
        else:
            config = _json_mutations(json.loads(json.dumps(config_text)), rng)
            rewrite(saved, target, config__json=json.dumps(config).encode())
        t0 = time.perf_counter()
        try:
            plait.load_model(target)
            outcomes["loaded"] += 1
        except FormatError:
            outcomes["refused"] += 1
        assert time.perf_counter() - t0 < 5, "a load took too long (hang?)"
    assert count >= 100 and outcomes["refused"] > count // 2
