"""Callback base, CallbackList dispatch, History, LambdaCallback and ProgbarLogger."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from plait.callbacks import Callback, CallbackList, History, LambdaCallback, ProgbarLogger
from plait.callbacks.lambda_callback import HOOK_NAMES
from plait.callbacks.logs import LazyLogs

BAR = "━"
EPOCH_HOOKS = ("on_epoch_begin", "on_epoch_end")
RUN_HOOKS = tuple(n for n in HOOK_NAMES if n.endswith(("_begin", "_end")) and "batch" not in n and "epoch" not in n)
BATCH_HOOKS = tuple(n for n in HOOK_NAMES if "batch" in n)


class FakeModel:
    def __init__(self) -> None:
        self.stop_training = False


class EmptyModel(FakeModel):
    """Falsy like an empty Sequential (defines __len__)."""

    def __len__(self) -> int:
        return 0


class FakeTTY(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class Recorder(Callback):
    """Overrides every hook and records (name, hook, args)."""

    def __init__(self, name: str, journal: list) -> None:
        super().__init__()
        self.name = name
        self.journal = journal

    def __getattribute__(self, attr):
        if attr in HOOK_NAMES:
            def hook(*args, **kwargs):
                self.journal.append((object.__getattribute__(self, "name"), attr, args, kwargs))
            return hook
        return object.__getattribute__(self, attr)


class BatchEndOnly(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list = []

    def on_batch_end(self, batch, logs=None):  # legacy hook
        self.batches.append(batch)


class OnlyTestBatchEnd(Callback):
    def on_test_batch_end(self, batch, logs=None):
        pass


class EpochOnly(Callback):
    def on_epoch_end(self, epoch, logs=None):
        pass


@pytest.fixture(autouse=True)
def no_colour(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")


def counting_logs(counter: list, values: dict) -> LazyLogs:
    def compute():
        counter.append(1)
        return values

    return LazyLogs(compute)


def call_hook(target, name: str, logs) -> None:
    if name in EPOCH_HOOKS or name in BATCH_HOOKS:
        getattr(target, name)(3, logs)
    else:
        getattr(target, name)(logs)


# -- Callback base ----------------------------------------------------------------------------------


def test_base_hooks_are_noops_and_accept_logs():
    callback = Callback()
    for name in HOOK_NAMES:
        call_hook(callback, name, {"loss": 1.0})
        call_hook(callback, name, None)
    assert callback.model is None and callback.params == {}


def test_set_model_and_params():
    callback, model = Callback(), FakeModel()
    callback.set_model(model)
    callback.set_params({"verbose": 1, "epochs": 2, "steps": 5})
    assert callback.model is model
    assert callback.params == {"verbose": 1, "epochs": 2, "steps": 5}


def test_subclass_without_super_init_has_no_model():
    class Lazy(Callback):
        def __init__(self):
            pass

    assert Lazy().model is None


def test_legacy_batch_hooks_called_from_train_batch_hooks():
    callback = BatchEndOnly()
    callback.on_train_batch_end(7, {"loss": 1.0})
    callback.on_test_batch_end(8, {"loss": 1.0})
    assert callback.batches == [7]


@pytest.mark.parametrize(
    ("callback", "expected"),
    [
        (Callback(), {"train": False, "test": False, "predict": False, None: False}),
        (BatchEndOnly(), {"train": True, "test": False, "predict": False, None: True}),
        (OnlyTestBatchEnd(), {"train": False, "test": True, "predict": False, None: True}),
        (EpochOnly(), {"train": False, "test": False, "predict": False, None: False}),
        (History(), {"train": False, "test": False, "predict": False, None: False}),
        (LambdaCallback(on_train_batch_end=lambda b, logs: None), {"train": True, "test": False, None: True}),
        (LambdaCallback(on_predict_batch_begin=lambda b, logs: None), {"train": False, "predict": True}),
        (LambdaCallback(on_epoch_end=lambda e, logs: None), {"train": False, "test": False, None: False}),
    ],
)
def test_batch_hook_detection(callback, expected):
    for kind, answer in expected.items():
        assert callback.implements_batch_hooks(kind) is answer


def test_batch_hook_detection_rejects_unknown_kind():
    with pytest.raises(ValueError, match="'train', 'test', 'predict'"):
        Callback().implements_batch_hooks("training")


# -- CallbackList -----------------------------------------------------------------------------------


def test_dispatch_order_and_arguments_for_every_hook():
    journal: list = []
    first, second = Recorder("a", journal), Recorder("b", journal)
    callbacks = CallbackList([first, second])
    for name in HOOK_NAMES:
        journal.clear()
        logs = {"loss": 1.0}
        call_hook(callbacks, name, logs)
        assert [entry[0] for entry in journal] == ["a", "b"], name
        for _, hook, args, kwargs in journal:
            assert hook == name
            received_logs = kwargs.get("logs", args[-1])
            assert received_logs is logs  # the same mapping, so writes are seen downstream
            if name in EPOCH_HOOKS or name in BATCH_HOOKS:
                assert args[0] == 3


def test_missing_logs_become_an_empty_dict():
    journal: list = []
    callbacks = CallbackList([Recorder("a", journal)])
    callbacks.on_epoch_end(0)
    callbacks.on_train_batch_end(0)
    assert journal[0][2] == (0, {}) and journal[1][3] == {"logs": {}}


def test_epoch_logs_written_by_a_callback_reach_history():
    class WritesLearningRate(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["learning_rate"] = 0.01

    callbacks = CallbackList([WritesLearningRate()], add_history=True)
    callbacks.on_train_begin()
    callbacks.on_epoch_end(0, {"loss": 0.5})
    assert callbacks.history.history == {"loss": [0.5], "learning_rate": [0.01]}


def test_defaults_added_last_and_not_duplicated():
    user = Callback()
    callbacks = CallbackList([user], add_history=True, add_progbar=True)
    assert callbacks.callbacks[0] is user
    assert isinstance(callbacks.callbacks[1], History) and isinstance(callbacks.callbacks[2], ProgbarLogger)
    assert callbacks.history is callbacks.callbacks[1]

    mine, bar = History(), ProgbarLogger()
    callbacks = CallbackList([mine, bar], add_history=True, add_progbar=True)
    assert callbacks.callbacks == [mine, bar] and callbacks.history is mine
    assert CallbackList().history is None and CallbackList().callbacks == []


def test_nested_lists_and_single_callback_are_flattened():
    a, b, c = Callback(), Callback(), Callback()
    assert CallbackList([a, [b, (c,)]]).callbacks == [a, b, c]
    assert CallbackList(a).callbacks == [a]


@pytest.mark.parametrize(("bad", "match"), [([History], "instead of an instance"), (["history"], "instance of"),
                                             ("history", "list of")])
def test_bad_callbacks_raise_type_error(bad, match):
    with pytest.raises(TypeError, match=match):
        CallbackList(bad)


def test_model_and_params_are_forwarded():
    model = EmptyModel()  # falsy, must still be set
    journal: list = []
    inner = Callback()
    callbacks = CallbackList([inner], add_history=True, model=model, verbose=0, epochs=2, steps=3)
    assert inner.model is model and callbacks.model is model
    assert model.history is callbacks.history
    assert inner.params == {"verbose": 0, "epochs": 2, "steps": 3} == callbacks.history.params
    recorder = Recorder("r", journal)
    CallbackList([recorder])  # no params: set_params is not forwarded
    assert journal == []


def test_callback_can_stop_training():
    model = FakeModel()
    stopper = LambdaCallback(on_train_batch_end=lambda batch, logs: setattr(model, "stop_training", batch >= 2))
    callbacks = CallbackList([stopper], model=model)
    steps = 0
    for batch in range(10):
        callbacks.on_train_batch_end(batch, {})
        steps += 1
        if model.stop_training:
            break
    assert steps == 3


def test_needs_batch_hooks():
    assert not CallbackList([EpochOnly()], add_history=True).needs_batch_hooks("train")
    callbacks = CallbackList([BatchEndOnly(), OnlyTestBatchEnd()], add_history=True)
    assert callbacks.needs_batch_hooks("train") and callbacks.needs_batch_hooks("test")
    assert not callbacks.needs_batch_hooks("predict")
    assert CallbackList([CallbackList([OnlyTestBatchEnd()])]).needs_batch_hooks("test")


@pytest.mark.parametrize(
    ("verbose", "steps", "train", "test"),
    [(0, 10, False, False), (1, 10, True, True), ("auto", 10, True, True), (2, 10, False, False),
     (2, None, True, True)],
)
def test_progbar_logger_batch_hook_needs(verbose, steps, train, test):
    callbacks = CallbackList(add_history=True, add_progbar=True, verbose=verbose, epochs=1, steps=steps)
    assert callbacks.needs_batch_hooks("train") is train
    assert callbacks.needs_batch_hooks("test") is test
    callbacks.on_train_begin()
    assert callbacks.needs_batch_hooks("test") is False  # validation inside fit is silent


def test_dispatch_does_not_read_lazy_logs():
    reads: list = []
    callbacks = CallbackList([BatchEndOnly(), OnlyTestBatchEnd()], add_history=True, verbose=0, epochs=1, steps=5)
    for batch in range(5):
        for hook in BATCH_HOOKS:
            getattr(callbacks, hook)(batch, counting_logs(reads, {"loss": 1.0}))
    assert reads == []


# -- History ----------------------------------------------------------------------------------------


def test_history_records_python_floats_per_epoch():
    rng = np.random.default_rng(1)
    model = FakeModel()
    history = History()
    history.set_model(model)
    history.set_params({"verbose": 0, "epochs": 3, "steps": 2})
    history.on_train_begin()
    raw = rng.random((3, 3))
    for epoch in range(3):
        history.on_epoch_end(epoch, {"loss": torch.tensor(raw[epoch, 0], dtype=torch.float64),
                                     "accuracy": np.float32(raw[epoch, 1]),
                                     "val_loss": float(raw[epoch, 2])})
        assert model.history is history
    assert history.epoch == [0, 1, 2]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 2}
    for name, column in (("loss", 0), ("val_loss", 2)):
        assert history.history[name] == raw[:, column].tolist()
    assert history.history["accuracy"] == [float(np.float32(v)) for v in raw[:, 1]]
    assert all(type(v) is float for values in history.history.values() for v in values)


def test_history_keeps_epoch_indices_after_initial_epoch_and_resets_on_train_begin():
    history = History()
    history.on_train_begin()
    history.on_epoch_end(4, {"loss": 1})
    assert history.epoch == [4] and history.history == {"loss": [1.0]}
    history.on_train_begin()
    assert history.epoch == []


def test_history_without_model_or_logs():
    history = History()
    history.on_epoch_end(0)
    assert history.epoch == [0] and history.history == {}


# -- LambdaCallback ---------------------------------------------------------------------------------


def test_lambda_callback_calls_functions_with_hook_arguments():
    calls: list = []
    callback = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch, logs)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs)),
        on_train_begin=lambda logs: calls.append(("train_begin", logs)),
        on_train_end=lambda logs: calls.append(("train_end", logs)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch, logs)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, logs)),
        on_test_end=lambda logs: calls.append(("test_end", logs)),
    )
    callbacks = CallbackList([callback])
    callbacks.on_train_begin({"a": 1})
    callbacks.on_epoch_begin(0, {"b": 2})
    callbacks.on_train_batch_begin(5, {"c": 3})
    callbacks.on_train_batch_end(5, {"d": 4})
    callbacks.on_epoch_end(0, {"e": 5})
    callbacks.on_test_end({"f": 6})
    callbacks.on_train_end({"g": 7})
    callbacks.on_predict_end({"h": 8})  # not given: base no-op
    assert calls == [("train_begin", {"a": 1}), ("epoch_begin", 0, {"b": 2}), ("batch_begin", 5, {"c": 3}),
                     ("batch_end", 5, {"d": 4}), ("epoch_end", 0, {"e": 5}), ("test_end", {"f": 6}),
                     ("train_end", {"g": 7})]


def test_lambda_callback_unknown_hook_suggests_close_name():
    with pytest.raises(ValueError, match="'on_epoch_ends'.*Did you mean 'on_epoch_end'"):
        LambdaCallback(on_epoch_ends=lambda epoch, logs: None)


def test_lambda_callback_rejects_non_callables():
    with pytest.raises(TypeError, match="on_epoch_end must be a function"):
        LambdaCallback(on_epoch_end=42)


# -- ProgbarLogger ----------------------------------------------------------------------------------


def run_fit(out, *, verbose, epochs, steps, known_steps=True, validate=True, step_time=0.01, clock=None):
    """Drive the hooks as a fit loop would; returns the number of batch-log reads."""
    reads: list = []
    logger = ProgbarLogger(file=out)
    callbacks = CallbackList([logger], add_history=True, model=FakeModel(), verbose=verbose, epochs=epochs,
                             steps=steps if known_steps else None)
    callbacks.on_train_begin()
    for epoch in range(epochs):
        callbacks.on_epoch_begin(epoch)
        for batch in range(steps):
            if clock is not None:
                clock.now += step_time
            callbacks.on_train_batch_begin(batch)
            callbacks.on_train_batch_end(batch, counting_logs(reads, {"loss": 0.5, "accuracy": 0.75}))
        if validate:  # silent inside fit
            callbacks.on_test_begin()
            callbacks.on_test_batch_end(0, {"loss": 9.0})
            callbacks.on_test_end({"loss": 9.0})
        callbacks.on_epoch_end(epoch, {"loss": 0.25, "accuracy": 0.875, "val_loss": 0.5, "val_accuracy": 0.8})
    callbacks.on_train_end()
    return reads


def test_progbar_logger_non_tty_one_line_per_epoch_with_epoch_headers(clock):
    out = io.StringIO()
    reads = run_fit(out, verbose=1, epochs=3, steps=100, clock=clock)
    lines = out.getvalue().split("\n")
    assert "\r" not in out.getvalue()
    expected_line = (f"100/100 {BAR * 20} 1s 10ms/step - accuracy: 0.8750 - loss: 0.2500"
                     " - val_accuracy: 0.8000 - val_loss: 0.5000")
    assert lines == ["Epoch 1/3", expected_line, "Epoch 2/3", expected_line, "Epoch 3/3", expected_line, ""]
    assert reads == []  # nothing drawn mid-epoch, so batch logs were never computed


def test_progbar_logger_single_epoch_has_no_epoch_header(clock):
    out = io.StringIO()
    run_fit(out, verbose=1, epochs=1, steps=4, clock=clock)
    assert "Epoch" not in out.getvalue() and out.getvalue().count("\n") == 1


def test_progbar_logger_verbose2(clock):
    out = FakeTTY()
    reads = run_fit(out, verbose=2, epochs=2, steps=50, step_time=0.008, clock=clock)
    line = "50/50 - 0s - 8ms/step - accuracy: 0.8750 - loss: 0.2500 - val_accuracy: 0.8000 - val_loss: 0.5000"
    assert out.getvalue() == f"Epoch 1/2\n{line}\nEpoch 2/2\n{line}\n"
    assert reads == []


def test_progbar_logger_verbose0_is_silent(clock):
    out = FakeTTY()
    run_fit(out, verbose=0, epochs=2, steps=5, clock=clock)
    assert out.getvalue() == ""


def test_progbar_logger_tty_redraws_rarely_and_validation_is_silent(clock):
    out = FakeTTY()
    reads = run_fit(out, verbose=1, epochs=1, steps=1000, step_time=0.001, clock=clock)
    text = out.getvalue()
    assert 1 <= len(reads) <= 21  # at most one read per 0.05 s redraw over 1 s
    assert text.count("\r") == len(reads) + 1  # the redraws plus the final line
    assert "9.0000" not in text  # the validation batch logs were not shown
    final = text.split("\r")[-1]
    assert final.startswith(f"1000/1000 {BAR * 20} 1s 1ms/step - accuracy: 0.8750 - loss: 0.2500 - val_accuracy")
    assert " - accuracy: 0.7500 - loss: 0.5000" in text  # batch logs, sorted as Keras shows them


def test_progbar_logger_unknown_steps_learns_them_in_first_epoch(clock):
    out = FakeTTY()
    run_fit(out, verbose=1, epochs=2, steps=3, known_steps=False, clock=clock, step_time=0.1, validate=False)
    first_epoch, second_epoch = out.getvalue().split("Epoch 2/2\n")
    assert "      1/Unknown" in first_epoch
    assert first_epoch.split("\r")[-1].startswith(f"3/3 {BAR * 20} ")
    assert "Unknown" not in second_epoch and f"\r1/3 {BAR * 6}{'─' * 14} " in second_epoch


def test_progbar_logger_evaluate_and_predict_show_their_own_bar(clock):
    out = io.StringIO()
    logger = ProgbarLogger(file=out)
    callbacks = CallbackList([logger], verbose=1, epochs=1, steps=2)
    callbacks.on_test_begin()
    for batch in range(2):
        clock.now += 0.01
        callbacks.on_test_batch_end(batch, {"loss": 0.5})
    callbacks.on_test_end({"loss": 0.5, "accuracy": 0.25})
    callbacks.on_predict_begin()
    for batch in range(2):
        clock.now += 0.01
        callbacks.on_predict_batch_end(batch, {"outputs": np.zeros(3)})
    callbacks.on_predict_end()
    assert out.getvalue().split("\n") == [
        f"2/2 {BAR * 20} 0s 10ms/step - accuracy: 0.2500 - loss: 0.5000",
        f"2/2 {BAR * 20} 0s 10ms/step",
        "",
    ]


def test_progbar_logger_rejects_bad_verbose():
    with pytest.raises(ValueError, match="verbose must be"):
        ProgbarLogger().set_params({"verbose": 3, "epochs": 1, "steps": 1})
