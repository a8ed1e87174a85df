"""`plait report` and its data-file reader on hostile files and bad data: every case ends in exit code 2 with
one line on stderr naming the file, what was wrong and the fix, within bounded time and memory (no traceback,
no NumPy `_ArrayMemoryError`, no hang on a FIFO or a device)."""
import os
import re
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import plait
from plait.cli import main
from plait.errors import FormatError
from plait.evaluation.datafile import INFLATION_FLOOR, load_data_file

MEMORY_BOUND = 32 << 20  # bytes of NumPy/Python allocations any refused file may cost
TIME_BOUND = 10.0  # seconds


def _npy(shape, descr="<f8", data=b"", version=1):
    """The bytes of a .npy file whose header declares `shape` and `descr`, followed by `data` (forged at will)."""
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)}).encode("latin1")
    prefix = 10 if version == 1 else 12
    header += b" " * ((64 - (prefix + len(header) + 1) % 64) % 64) + b"\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header + data


def _npz(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(f"{name}.npy", content)
    return str(path)


_GOOD_Y = _npy((2,), "<i8", b"\x00" * 16)


def _bounded(fn):
    """Runs fn() in a thread, returning (error, seconds, peak traced bytes); fails if it runs past TIME_BOUND."""
    outcome = {}

    def target():
        tracemalloc.start()
        start = time.perf_counter()
        try:
            fn()
        except BaseException as err:  # noqa: B036 - the test inspects whatever it raised
            outcome["error"] = err
        outcome["seconds"] = time.perf_counter() - start
        outcome["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(TIME_BOUND)
    assert not thread.is_alive(), f"still running after {TIME_BOUND}s (blocked on the file?)"
    return outcome.get("error"), outcome["seconds"], outcome["peak"]


def _refused(path, match, **kwargs):
    error, seconds, peak = _bounded(lambda: load_data_file(path, **kwargs))
    assert isinstance(error, ValueError), f"expected a ValueError, got {error!r}"
    assert re.search(match, str(error)), error
    assert peak < MEMORY_BOUND and seconds < TIME_BOUND, (peak, seconds)
    return error


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A 3-class softmax model and a one-unit sigmoid model, saved, with data of 3 features."""
    folder = tmp_path_factory.mktemp("models")
    softmax = plait.Sequential([plait.Input(shape=(3,)), plait.layers.Dense(3, activation="softmax")])
    softmax.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    softmax.save(str(folder / "softmax.plait"))
    sigmoid = plait.Sequential([plait.Input(shape=(3,)), plait.layers.Dense(1, activation="sigmoid")])
    sigmoid.compile(optimizer="adam", loss="binary_crossentropy")
    sigmoid.save(str(folder / "sigmoid.plait"))
    return {"softmax": str(folder / "softmax.plait"), "sigmoid": str(folder / "sigmoid.plait")}


def _x(n=12):
    return np.random.default_rng(0).normal(size=(n, 3)).astype("float32")


def _exit_2(capsys, *argv):
    """Runs `plait report ...`; asserts exit code 2 and exactly one line on stderr, and returns that line."""
    code = main(["report", *map(str, argv), "--n-bootstrap", "0"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plait report: ") and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------ .npz headers checked before allocation
@pytest.mark.parametrize("shape", [(10**6, 10**6), (2**62, 2**62, 2**62), (2**63 - 1,), (-2, 3)],
                         ids=["huge", "product-overflows-int64", "int64-max", "negative"])
def test_npz_member_declaring_a_huge_or_impossible_shape_is_refused_before_allocation(tmp_path, shape):
    path = _npz(tmp_path / "forged.npz", {"x": _npy(shape, data=b"\x00" * 64), "y": _GOOD_Y})
    error = _refused(path, r"forged\.npz: array 'x' declares (shape|the impossible shape)")
    assert isinstance(error, FormatError)


@pytest.mark.parametrize("version", [1, 2])
def test_npz_header_longer_than_the_limit_or_malformed_is_refused(tmp_path, version):
    length = struct.pack("<H", 60000) if version == 1 else struct.pack("<I", 2**31)
    huge = _npz(tmp_path / "long.npz", {"x": b"\x93NUMPY" + bytes([version, 0]) + length, "y": _GOOD_Y})
    _refused(huge, r"long\.npz: array 'x' declares a \d+-byte \.npy header, over the 10000-byte limit")
    nested = b"\x93NUMPY\x01\x00" + struct.pack("<H", 9000) + b"(" * 8999 + b"\n"
    _refused(_npz(tmp_path / "nested.npz", {"x": nested, "y": _GOOD_Y}), r"nested\.npz: array 'x' has a malformed")
    _refused(_npz(tmp_path / "v3.npz", {"x": b"\x93NUMPY\x03\x00\x00\x00\x00\x00", "y": _GOOD_Y}),
             r"format version 3\.0")
    _refused(_npz(tmp_path / "raw.npz", {"x": b"not an array", "y": _GOOD_Y}), r"lacks the \\x93NUMPY magic")


@pytest.mark.parametrize("descr", ["|O", "<U99999999999", "<c16", [("a", "<f8", (10**9, 10**9))], "<M8[s]"],
                         ids=["object", "huge-string", "complex", "huge-subarray", "datetime"])
def test_npz_member_with_a_non_numeric_dtype_is_refused(tmp_path, descr):
    path = _npz(tmp_path / "dtype.npz", {"x": _npy((2,), descr, b"\x00" * 32), "y": _GOOD_Y})
    _refused(path, r"dtype\.npz: array 'x' (holds dtype|has a malformed)")


def test_npz_with_a_pickled_object_array_is_refused_without_unpickling(tmp_path):
    path = str(tmp_path / "pickle.npz")
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object), y=np.arange(2))
    _refused(path, r"holds dtype object; plait reads bool, integer and float arrays only \(never Python objects")


def test_npz_zip_bomb_is_refused_from_the_zip_directory_before_inflating(tmp_path):
    path = str(tmp_path / "bomb.npz")
    count = (2 * INFLATION_FLOOR) // 8  # zeros: deflate shrinks them about 1000-fold
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as stream:
            stream.write(_npy((count,)))
            block = b"\x00" * (1 << 22)
            for _ in range(count * 8 // len(block)):
                stream.write(block)
        archive.writestr("y.npy", _GOOD_Y)
    assert os.path.getsize(path) < (2 * INFLATION_FLOOR) // 200
    _refused(path, r"bomb\.npz: member 'x\.npy' would expand from \d+ to \d+ bytes, over 200 times \(a zip bomb\?\)")


def test_npz_whose_zip_directory_declares_more_than_the_data_is_refused(tmp_path):
    path = _npz(tmp_path / "forged.npz", {"x": _npy((4,), data=b"\x00" * 32), "y": _GOOD_Y})
    data = bytearray(open(path, "rb").read())
    directory = data.find(b"PK\x01\x02")  # the central directory entry of x.npy: its uncompressed size
    data[directory + 24:directory + 28] = struct.pack("<I", 0xFFFFFFF0)
    open(path, "wb").write(data)
    _refused(path, r"forged\.npz: (member 'x\.npy' would expand|the arrays read declare \d+ bytes)")


def test_npz_larger_than_max_bytes_is_refused_with_the_way_to_raise_the_limit(tmp_path):
    path = str(tmp_path / "big.npz")
    np.savez(path, x=_x(100), y=np.zeros(100, dtype="int64"))
    _refused(path, r"over the 1000-byte limit .*--max-bytes N", max_bytes=1000)
    x, _ = load_data_file(path)
    assert x.shape == (100, 3)


def test_damaged_npz_is_a_format_error(tmp_path):
    path = str(tmp_path / "good.npz")
    np.savez(path, x=np.arange(12.0).reshape(4, 3), y=np.arange(4))
    data = bytearray(open(path, "rb").read())
    data[data.find(b"\x93NUMPY") + 200] ^= 0xFF  # a data byte of x: its CRC no longer matches
    open(tmp_path / "crc.npz", "wb").write(data)
    _refused(str(tmp_path / "crc.npz"), r"crc\.npz: the archive is damaged .*CRC")
    open(tmp_path / "cut.npz", "wb").write(data[: len(data) // 2])
    _refused(str(tmp_path / "cut.npz"), r"cut\.npz is not a readable \.npz archive")
    _refused(_npz(tmp_path / "short.npz", {"x": _npy((4,), data=b"\x00" * 8), "y": _GOOD_Y}),
             r"short\.npz: array 'x' declares shape \(4,\) of float64 \(32 bytes\), but the archive holds 8")


def test_honest_npz_files_still_load_exactly(tmp_path):
    x = np.asfortranarray(np.random.default_rng(1).normal(size=(7, 3)))
    for i, save in enumerate((np.savez, np.savez_compressed)):
        path = str(tmp_path / f"ok{i}.npz")
        save(path, x=x.astype(">f8"), y=np.arange(7.0), empty=np.zeros((0, 3)))
        got_x, got_y = load_data_file(path)
        np.testing.assert_array_equal(got_x, x.astype("float32"))
        assert got_y.dtype == np.int64 and got_y.tolist() == list(range(7))
        assert load_data_file(path, x_key="empty")[0].shape == (0, 3)


# ------------------------------------------------------------------ only regular files
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_is_refused_without_blocking(tmp_path, models, capsys):
    fifo = str(tmp_path / "data.npz")
    os.mkfifo(fifo)
    _refused(fifo, r"data\.npz' is a FIFO \(named pipe\); expected a \.csv or \.npz data file\. plait reads "
                   r"regular files only")
    line = _exit_2(capsys, models["softmax"], fifo, "-o", tmp_path / "r.html")
    assert "is a FIFO (named pipe)" in line
    model_fifo = str(tmp_path / "model.plait")
    os.mkfifo(model_fifo)
    np.savez(tmp_path / "ok.npz", x=_x(), y=np.zeros(12, dtype="int64"))
    line = _exit_2(capsys, model_fifo, tmp_path / "ok.npz", "-o", tmp_path / "r.html")
    assert "model.plait could not be loaded" in line and "FIFO" in line


@pytest.mark.skipif(not os.path.exists("/dev/zero") or not hasattr(os, "symlink"), reason="needs /dev/zero")
def test_symlink_to_a_device_is_refused(tmp_path, models, capsys):
    for name in ("zero.npz", "zero.csv"):
        os.symlink("/dev/zero", tmp_path / name)
        _refused(str(tmp_path / name), r"is a character device; expected a \.csv or \.npz data file")
    line = _exit_2(capsys, models["softmax"], tmp_path / "zero.npz", "-o", tmp_path / "r.html")
    assert "zero.npz' is a character device" in line


def test_directory_is_refused(tmp_path):
    (tmp_path / "dir.npz").mkdir()
    _refused(str(tmp_path / "dir.npz"), r"dir\.npz' is a directory")


# ------------------------------------------------------------------ CSV
@pytest.mark.parametrize("content, match", [
    (b"\xff\xfe\x00,1\n", r"is not UTF-8 text"),
    (b"1,2,0\n3,4\n", r"line 2 has 2 columns; expected 3"),
    (b"a,b,t\n", r"has a header but no data rows"),
    (b"", r"is empty"),
    (b"1\n2\n", r"has 1 column"),
    (b"a,b,t\n1,x,0\n", r"line 2 holds a non-numeric cell"),
    (b"1,2," + b"9" * 200_000 + b"\n", r"is not valid CSV"),
], ids=["not-utf8", "ragged", "header-only", "empty", "one-column", "text-cell", "huge-field"])
def test_malformed_csv_is_refused(tmp_path, content, match):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    _refused(str(path), match)


def test_csv_over_max_bytes_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("1,2,0\n" * 100)
    _refused(str(path), r"holds 600 bytes, over the 100-byte limit", max_bytes=100)


def test_features_beyond_the_float32_range_are_refused_not_turned_into_inf(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,t\n1,2,0\n1e300,2,1\n")
    _refused(str(tmp_path / "t.csv"), r"t\.csv: x holds 1e\+300 \(row 1\), beyond the float32 range")
    np.savez(tmp_path / "t.npz", x=np.array([[1.0, -1e39]]), y=np.array([1e300]))
    _refused(str(tmp_path / "t.npz"), r"t\.npz: x holds -1e\+39 \(row 0\)")
    np.savez(tmp_path / "ok.npz", x=np.ones((1, 2)), y=np.array([1e300]))
    assert load_data_file(str(tmp_path / "ok.npz"))[1].tolist() == [1e300]  # a regression target stays float64


# ------------------------------------------------------------------ plait report: the data against the model
def test_report_refuses_nan_and_inf_features_naming_the_file_and_rows(tmp_path, models, capsys):
    x = np.full((12, 3), np.nan, dtype="float32")
    np.savez(tmp_path / "nan.npz", x=x, y=np.zeros(12, dtype="int64"))
    line = _exit_2(capsys, models["softmax"], tmp_path / "nan.npz", "-o", tmp_path / "r.html")
    assert "nan.npz" in line and "x holds NaN values in 12 of 12 rows" in line and "impute" in line
    (tmp_path / "inf.csv").write_text("a,b,c,t\n1,2,3,0\n1,inf,3,1\n")
    line = _exit_2(capsys, models["softmax"], tmp_path / "inf.csv", "-o", tmp_path / "r.html")
    assert "inf.csv" in line and "x holds inf values in 1 of 2 rows (first rows [1])" in line
    (tmp_path / "nan_y.csv").write_text("a,b,c,t\n1,2,3,0\n1,2,3,nan\n")
    line = _exit_2(capsys, models["softmax"], tmp_path / "nan_y.csv", "-o", tmp_path / "r.html")
    assert "y holds NaN values in 1 of 2 rows" in line and "targets" in line
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("y, model, match", [
    (np.array([0, 1, 2, 3] * 3), "softmax", r"y holds the class id 3 \(rows \[3, 7, 11\]\), outside the model's 3 "
                                            r"classes 0\.\.2 \(the data holds 4 distinct labels\)\. If the"),
    (np.array([0, 1, -1] * 4), "softmax", r"class id -1 .* outside the model's 3 classes"),
    (np.array([0, 1, 1.5] * 4), "softmax", r"y holds fractional labels \(rows \[2, 5, 8, 11\], e\.g\. 1\.5\)"),
    (np.eye(5)[np.arange(12) % 5], "softmax", r"y has 5 columns \(one-hot rows for 5 classes\), but the model "
                                              r"outputs 3 classes"),
    (np.array([0, 1, 2] * 4), "sigmoid", r"y holds the label 2 .* the model has one output unit, so its labels "
                                         r"are 0 and 1"),
    (np.array([0, 1, 0.3] * 4), "sigmoid", r"y holds the label 0\.3 .* threshold soft labels first"),
], ids=["label-past-classes", "negative", "fractional", "one-hot-width", "binary-three-classes", "binary-soft"])
def test_report_refuses_labels_outside_the_models_classes(tmp_path, models, capsys, y, model, match):
    np.savez(tmp_path / "d.npz", x=_x(), y=y)
    line = _exit_2(capsys, models[model], tmp_path / "d.npz", "-o", tmp_path / "r.html")
    assert "d.npz" in line
    assert re.search(match, line), line


def test_report_refuses_a_model_whose_weights_hold_nan(tmp_path, capsys):
    model = plait.Sequential([plait.Input(shape=(3,)), plait.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    weights = model.get_weights()
    weights[0][:] = np.nan
    model.set_weights(weights)
    model.save(str(tmp_path / "broken.plait"))
    np.savez(tmp_path / "d.npz", x=_x(), y=np.arange(12) % 3)
    line = _exit_2(capsys, tmp_path / "broken.plait", tmp_path / "d.npz", "-o", tmp_path / "r.html")
    assert "broken.plait" in line and "The model's output holds NaN" in line
    assert re.search(r"its weights \['dense\w*/kernel'\] hold NaN or inf .* Reload a good copy or retrain it", line)


# ------------------------------------------------------------------ plait report: other user errors
def test_report_user_errors_exit_2_with_one_line(tmp_path, models, capsys):
    np.savez(tmp_path / "d.npz", x=_x(), y=np.arange(12) % 3)
    out = str(tmp_path / "r.html")
    cases = [
        ((models["softmax"], tmp_path / "missing.npz", "-o", out), "no data file at"),
        ((tmp_path / "missing.plait", tmp_path / "d.npz", "-o", out), "no model file at"),
        ((models["softmax"], tmp_path / "d.npz", "--x-key", "features", "-o", out),
         "d.npz has no array 'features'; it holds ['x', 'y']. Name the arrays with --x-key/--y-key"),
        ((models["softmax"], tmp_path / "d.npz", "--batch-size", "0", "-o", out), "--batch-size must be a positive"),
        ((models["softmax"], tmp_path / "d.npz", "--threshold", "nan", "-o", out), "--threshold must be a finite"),
        ((models["softmax"], tmp_path / "d.npz", "-o", tmp_path / "no" / "such" / "dir.html"),
         "cannot write the report to"),
    ]
    (tmp_path / "d.json").write_text("{}")
    cases.append(((models["softmax"], tmp_path / "d.json", "-o", out), "Unsupported data file"))
    np.save(tmp_path / "m.npy", np.zeros(3))
    cases.append(((tmp_path / "m.npy", tmp_path / "d.npz", "-o", out), "does not end in .plait"))
    (tmp_path / "junk.plait").write_bytes(b"PK\x03\x04 not really a zip")
    cases.append(((tmp_path / "junk.plait", tmp_path / "d.npz", "-o", out), "junk.plait could not be loaded"))
    for argv, expected in cases:
        assert expected in _exit_2(capsys, *argv), argv


def test_report_on_good_data_still_writes_the_report(tmp_path, models, capsys):
    np.savez(tmp_path / "d.npz", x=_x(), y=np.arange(12) % 3)
    assert main(["report", models["softmax"], str(tmp_path / "d.npz"), "--n-bootstrap", "0",
                 "-o", str(tmp_path / "r.html")]) == 0
    assert "<html" in (tmp_path / "r.html").read_text().lower()
    capsys.readouterr()


def test_the_plait_command_exits_2_without_a_traceback(tmp_path, models):
    np.savez(tmp_path / "nan.npz", x=np.full((4, 3), np.nan, dtype="float32"), y=np.zeros(4, dtype="int64"))
    done = subprocess.run([sys.executable, "-m", "plait", "report", models["softmax"], str(tmp_path / "nan.npz"),
                           "-o", str(tmp_path / "r.html")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"plait report: {tmp_path / 'nan.npz'} with ")
