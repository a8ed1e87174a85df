"""Hostile containers: zip bombs, lying zip headers, safetensors headers that overflow or overreach, and paths
that are not regular files. Each is refused with FormatError, fast, reading and allocating next to nothing."""
from __future__ import annotations

import os
import stat
import threading
import time
import zipfile

import numpy as np
import pytest
import torch
from hostile_helpers import (load_in_fresh_process, members, patch_directory, rewrite, safetensors_bytes,
                             write_deflated_member)

import plait
from plait.saving import FormatError
from plait.saving import safetensors_format as st
from plait.saving.limits import MAX_COMPRESSION_RATIO

WEIGHTS = "model.weights.safetensors"


@pytest.fixture()
def saved(tmp_path):
    plait.set_random_seed(0)
    model = plait.Sequential([plait.layers.Dense(4, input_shape=(3,)), plait.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 3), "float32"), np.ones((8, 2), "float32"), epochs=1, verbose=0)
    path = tmp_path / "good.plait"
    model.save(path)
    return path


def _zeros(total: int, chunk: int = 1 << 20):
    def chunks():
        left = total
        while left:
            yield bytes(min(chunk, left))
            left -= min(chunk, left)
    return chunks


def _bomb_weights(saved, out, data_bytes: int) -> str:
    """A weights member whose header declares `data_bytes` of float32 for the first kernel: inflates to that."""
    count = data_bytes // 4
    raw = safetensors_bytes({"_stack.0.kernel": {"dtype": "F32", "shape": [count],
                                                 "data_offsets": [0, 4 * count]}})
    return write_deflated_member(out, members(saved), WEIGHTS, lambda: [raw, *_zeros(4 * count)()])


# ------------------------------------------------------------------------------------------------ zip bombs
def test_a_zip_bomb_is_refused_from_the_directory_without_inflating_it(saved, tmp_path, monkeypatch):
    bomb = _bomb_weights(saved, tmp_path / "bomb.plait", 64 << 20)
    assert os.path.getsize(bomb) < 200_000
    inflated = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: (
        inflated.append(getattr(name, "filename", name)), real_open(self, name, *a, **k))[1])
    with pytest.raises(FormatError, match=rf"would inflate .* over the {MAX_COMPRESSION_RATIO}:1 limit"):
        plait.load_model(bomb)
    assert WEIGHTS not in inflated


def test_a_member_far_larger_than_the_model_is_refused_before_it_is_read(saved, tmp_path, monkeypatch):
    # 4 bits of entropy per byte: compresses about 2:1, under the ratio bound, but 8 MiB for a 26-weight model.
    noise = np.random.default_rng(0).integers(0, 16, 8 << 20, dtype=np.uint8).tobytes()
    count = len(noise) // 4
    raw = safetensors_bytes({"_stack.0.kernel": {"dtype": "F32", "shape": [count], "data_offsets": [0, len(noise)]}})
    out = write_deflated_member(tmp_path / "big.plait", members(saved), WEIGHTS, lambda: [raw, noise])
    read = []
    monkeypatch.setattr(st, "read_tensors", lambda *a, **k: read.append(1))
    with pytest.raises(FormatError, match=r"declares 8\.0 MiB, more than the .* the weights of the model its config "
                                          r"describes \(4 tensors\) can take"):
        plait.load_model(out)
    assert not read


def test_an_optimizer_state_beyond_the_model_is_refused_unread(saved, tmp_path):
    state = {"iterations": torch.tensor(1), "momentum/0": torch.rand(1 << 18)}  # 1 MiB for 26 weights
    out = rewrite(saved, tmp_path / "opt.plait", optimizer__safetensors=st.encode(state))
    with pytest.raises(FormatError, match=r"optimizer.safetensors declares 1.0 MiB, more than .* 8 copies of the "
                                          r"model's trainable weights"):
        plait.load_model(out)
    assert plait.load_model(out, compile=False).output_shape == (None, 2)  # not read without compile


def test_zip_directories_that_lie_about_sizes_are_refused(saved, tmp_path):
    data = members(saved)
    weights_size = len(data[WEIGHTS])
    cases = {"file_size_small": {"file_size": weights_size - 8},  # the stream stops early: header or CRC fails
             "file_size_huge": {"file_size": 2**32 - 2},           # a stored member whose sizes disagree
             "compress_size_huge": {"compress_size": 2**32 - 2, "file_size": 2**32 - 2}}
    for label, fields in cases.items():
        out = tmp_path / f"{label}.plait"
        out.write_bytes(saved.read_bytes())
        patch_directory(out, WEIGHTS, **fields)
        start = time.perf_counter()
        with pytest.raises(FormatError):
            plait.load_model(out)
        assert time.perf_counter() - start < 5, label
    # A deflated config whose directory understates its size: the stream stops at the declared size, the CRC fails.
    out = tmp_path / "config_small.plait"
    out.write_bytes(saved.read_bytes())
    patch_directory(out, "config.json", file_size=10)
    with pytest.raises(FormatError, match="damaged|JSON"):
        plait.load_model(out)


def test_bombs_cost_neither_memory_nor_time_in_a_fresh_process(saved, tmp_path):
    ratio_bomb = _bomb_weights(saved, tmp_path / "ratio.plait", 256 << 20)
    lying = tmp_path / "lying.plait"
    lying.write_bytes(saved.read_bytes())
    patch_directory(lying, WEIGHTS, file_size=2**32 - 2, compress_size=2**32 - 2)
    report = load_in_fresh_process(str(saved), [("model", ratio_bomb), ("model", str(lying)),
                                                ("weights", ratio_bomb)])
    for result in report["results"]:
        assert result["outcome"].startswith("FormatError"), result
        assert result["seconds"] < 5, result
        assert result["peak_mib_over_base"] < 64, result


# ------------------------------------------------------------------------------------------------ safetensors
_OVERFLOWING = [
    ({"w": {"dtype": "F32", "shape": [0, 2**40, 2**40], "data_offsets": [0, 0]}}, b"", "overflows"),
    ({"w": {"dtype": "F32", "shape": [2**31, 2**31, 2**31, 0], "data_offsets": [0, 0]}}, b"", "overflows"),
    ({"w": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 8]}}, bytes(8), "overflows"),
    ({"w": {"dtype": "F64", "shape": [2**61], "data_offsets": [0, 8]}}, bytes(8), "needs"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 2**64]}}, bytes(8), "outside"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}, bytes(8), "outside"),
    ({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8), "outside"),   # exceeds the data
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(4096), "trailing"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "v": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(8), "overlaps"),
    ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}, bytes(8), "invalid shape"),
    ({"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}}, bytes(8), "invalid shape"),
    ({"w": {"dtype": "F32", "shape": [[2]], "data_offsets": [0, 8]}}, bytes(8), "invalid shape"),
    ({"w": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, bytes(4), "invalid shape"),
    ({"w": {"dtype": "onnx", "shape": [2], "data_offsets": [0, 8]}}, bytes(8), "dtype"),
]


@pytest.mark.parametrize("header, data, message", _OVERFLOWING)
def test_safetensors_headers_that_overflow_or_overreach_are_format_errors(header, data, message, tmp_path):
    raw = safetensors_bytes(header, data)
    with pytest.raises(FormatError, match=message):
        st.decode(raw)
    path = tmp_path / "w.safetensors"
    path.write_bytes(raw)
    with pytest.raises(FormatError, match=message):
        st.load_file(path)


@pytest.mark.parametrize("header, data, message", _OVERFLOWING[:5])
def test_overflowing_shapes_inside_model_files_are_format_errors(header, data, message, saved, tmp_path):
    header = {("_stack.0.kernel" if k == "w" else k): v for k, v in header.items()}
    out = rewrite(saved, tmp_path / "overflow.plait", model__weights__safetensors=safetensors_bytes(header, data))
    with pytest.raises(FormatError):
        plait.load_model(out)
    model = plait.load_model(saved)
    with pytest.raises(FormatError):
        model.load_weights(out)
    path = tmp_path / "w.safetensors"
    path.write_bytes(safetensors_bytes(header, data))
    with pytest.raises(FormatError):
        model.load_weights(path)


def test_a_header_length_beyond_the_file_or_the_model_is_refused(saved, tmp_path):
    model = plait.load_model(saved)
    path = tmp_path / "w.safetensors"
    path.write_bytes((2**63).to_bytes(8, "little") + b"{}")
    with pytest.raises(FormatError, match="header length"):
        model.load_weights(path)
    # A valid file whose header is far longer than the model's four weights could need: refused unread.
    st.save_file({"_stack.0.kernel": torch.zeros(3, 4)}, path, {"pad": "x" * (1 << 20)})
    with pytest.raises(FormatError, match="declares 1.0 MiB, more than the .* that the weights of model"):
        model.load_weights(path)
    with open(path, "rb") as handle, pytest.raises(FormatError, match="too large for the model"):
        st.read_header(handle, os.path.getsize(path), source="w", max_header_bytes=1 << 16)


def test_weights_files_are_read_no_further_than_the_model_needs(saved, tmp_path):
    model = plait.load_model(saved)
    extra = {k: v for k, v in plait.saving.weights.weight_tensors(model).items()}
    extra["unrelated.big"] = torch.zeros(1 << 20)
    path = tmp_path / "bigger.weights.safetensors"
    st.save_file(extra, path)
    with pytest.raises(FormatError, match="declares 4.0 MiB, more than"):
        model.load_weights(path)
    with pytest.warns(UserWarning, match="unrelated.big"):
        model.load_weights(path, skip_mismatch=True)  # reads only the model's four tensors


# ------------------------------------------------------------------------------------------------ not regular files
def _in_time(fn, seconds: float = 10.0):
    """Runs `fn` in a thread; fails the test if it does not return within `seconds` (a blocking open)."""
    box: dict = {}

    def run():
        try:
            fn()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            box["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "loading blocked"
    return box.get("error")


def _loaders(saved):
    model = plait.load_model(saved)
    return [plait.load_model, model.load_weights, st.load_file, plait.saving.archive.member_names]


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_symlink_to_a_device_is_refused(saved, tmp_path, device):
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    for suffix in (".plait", ".safetensors"):
        link = tmp_path / f"device{suffix}"
        link.unlink(missing_ok=True)
        link.symlink_to(device)
        for load in _loaders(saved):
            error = _in_time(lambda load=load, link=link: load(link))
            assert isinstance(error, FormatError) and "character device" in str(error), (load, error)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_or_a_symlink_to_one_is_refused_without_blocking(saved, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    for suffix in (".plait", ".safetensors"):
        direct = tmp_path / f"fifo{suffix}"
        os.mkfifo(direct)
        link = tmp_path / f"link{suffix}"
        link.symlink_to(fifo)
        for path in (direct, link):
            for load in _loaders(saved):
                error = _in_time(lambda load=load, path=path: load(path))
                assert isinstance(error, FormatError) and "FIFO" in str(error), (load, error)


def test_directories_and_missing_files(saved, tmp_path):
    for suffix in (".plait", ".safetensors"):
        (tmp_path / f"dir{suffix}").mkdir()
        for load in _loaders(saved):
            with pytest.raises(FormatError, match="directory"):
                load(tmp_path / f"dir{suffix}")
            with pytest.raises(FileNotFoundError):
                load(tmp_path / f"absent{suffix}")


def test_a_symlink_to_a_regular_file_still_loads(saved, tmp_path):
    link = tmp_path / "link.plait"
    link.symlink_to(saved)
    assert plait.load_model(link).output_shape == (None, 2)
    weights = tmp_path / "w.safetensors"
    plait.load_model(saved).save_weights(weights)
    (tmp_path / "w_link.safetensors").symlink_to(weights)
    plait.load_model(saved).load_weights(tmp_path / "w_link.safetensors")
