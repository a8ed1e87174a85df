"""The loops behind fit, evaluate and predict: epochs x steps, callbacks, logs.

Per step the loop does no host work beyond Python dispatch: batches are indexed on the device,
metrics accumulate on the device, and logs are converted to floats only when a callback reads them.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from plait import tree
from plait.callbacks import CallbackList
from plait.callbacks.logs import LazyLogs, to_float
from plait.callbacks.training_state import preserved_rng
from plait.data import ArrayAdapter, EpochIterator, adapt, apply_class_weight, train_validation_split, \
    unpack_x_y_sample_weight
from plait.tensors import drop_autocast_casts, restore_autocast_cache, uncache_autocast
from plait.training.run import FitRun, TrainableModel
from plait.training.target_checks import check_targets
from plait.caller import user_stacklevel
from plait.utils.progbar import is_interactive


def resolve_verbose(verbose: Any) -> int:
    """'auto' -> 1 (the live bar) on a terminal or in a Jupyter notebook, 2 when output goes to a file or pipe."""
    if verbose == "auto":
        return 1 if is_interactive() else 2
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}.")
    return int(verbose)


def check_batch_size(batch_size: Any, name: str = "batch_size") -> int | None:
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"{name} must be a positive integer, got {batch_size!r}. "
                         f"Use e.g. {name}=32.")
    return int(batch_size)


def _check_epochs(epochs: Any, initial_epoch: Any) -> None:
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")


def _check_steps(value: Any, name: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0):
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}.")


def _check_validation_freq(validation_freq: Any) -> None:
    def positive(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1

    if positive(validation_freq):
        return
    if isinstance(validation_freq, (list, tuple, set)) and all(positive(v) for v in validation_freq):
        return
    raise ValueError(f"validation_freq must be a positive integer (validate every n epochs) or a list of 1-based "
                     f"epoch numbers such as [1, 5, 10], got {validation_freq!r}.")


def _should_validate(epoch: int, validation_freq: Any) -> bool:
    if isinstance(validation_freq, (list, tuple, set)):
        return (epoch + 1) in validation_freq
    return (epoch + 1) % validation_freq == 0


def _check_arrays(model: TrainableModel, data: Any, batch_size: int, *, what: str = "y",
                  class_weight: Any = None, forward: bool = True) -> None:
    """Checks array data before the first step: an inference pass over its first batch (the inputs' shapes and
    structure), then every target row against the losses (training/target_checks.py).

    That pass also resolves the losses, and builds a model whose layers build lazily, drawing the same initial
    weights the first step would have drawn. With `forward=False` (evaluate, which changes no weight) it runs
    only when the losses are not resolved yet.
    """
    if not isinstance(data, ArrayAdapter):
        return
    first = data.take(slice(0, min(data.num_samples, batch_size)))
    model.check_batch(first) if forward else model.build_metrics(first)
    if data.y is not None:
        check_targets(model.compiled_loss, model.output_names, data.y, what=what, class_weight=class_weight)


def _batch_logs(logs: Any) -> LazyLogs:
    return logs if isinstance(logs, LazyLogs) else LazyLogs(lambda: logs)


def _float_logs(logs: Any) -> dict[str, float]:
    return {k: to_float(v) for k, v in dict(logs).items()}


def _validation_source(model: TrainableModel, validation_data: Any) -> Any:
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be (x_val, y_val) or (x_val, y_val, val_sample_weight), "
                             f"got a sequence of {len(validation_data)} items.")
        x, y, sw = unpack_x_y_sample_weight(tuple(validation_data))
        return adapt(x, y, sw, device=model._device(), require_y=True)
    return adapt(validation_data, device=model._device(), require_y=model.compiled_loss is not None)


def _start(model: TrainableModel, run: FitRun) -> FitRun | None:
    """Hands `run` to the model for the call; returns the run it replaces (a callback may evaluate inside fit)."""
    previous, model.fit_run = model.fit_run, run
    return previous


def fit(model: TrainableModel, *, x: Any, y: Any, batch_size: Any, epochs: Any, verbose: Any, callbacks: Any,
        validation_split: float, validation_data: Any, shuffle: Any, class_weight: Any, sample_weight: Any,
        initial_epoch: int, steps_per_epoch: Any, validation_steps: Any, validation_batch_size: Any,
        validation_freq: Any, nan_policy: str | None = None) -> Any:
    model._assert_compiled()
    batch_size = check_batch_size(batch_size) or 32
    validation_batch_size = check_batch_size(validation_batch_size, "validation_batch_size") or batch_size
    _check_epochs(epochs, initial_epoch)
    _check_steps(steps_per_epoch, "steps_per_epoch")
    _check_steps(validation_steps, "validation_steps")
    verbose = resolve_verbose(verbose)
    if nan_policy not in (None, "raise"):
        raise ValueError(f"nan_policy must be None or 'raise', got {nan_policy!r}.")
    _check_validation_freq(validation_freq)
    run = FitRun(kind="fit", epochs=int(epochs), initial_epoch=int(initial_epoch), class_weight=class_weight,
                 sample_weight=sample_weight, validation_split=validation_split)
    train = run.data = adapt(x, y, sample_weight, device=model._device(), require_y=model.compiled_loss is not None)
    if validation_data is not None:
        run.validation_data = _validation_source(model, validation_data)
    elif validation_split:
        if not isinstance(train, ArrayAdapter):
            raise ValueError("validation_split only works with arrays or tensors; for a DataLoader or "
                             "generator pass validation_data instead.")
        run.full_data = train
        train, run.validation_data = train_validation_split(train, validation_split)
        run.data, run.split_at = train, train.num_samples
    iterator = EpochIterator(train, batch_size, shuffle=shuffle, steps_per_epoch=steps_per_epoch,
                             class_weight=class_weight)
    val_iterator = None if run.validation_data is None else \
        EpochIterator(run.validation_data, validation_batch_size, steps_per_epoch=validation_steps)
    # Everything that can be checked is checked here, before a callback runs or a weight changes.
    _check_arrays(model, train, batch_size, class_weight=iterator.class_weight)
    _check_arrays(model, run.validation_data, validation_batch_size, what="the validation targets")
    cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                       verbose=verbose, epochs=epochs, steps=iterator.num_steps)
    want_batch_hooks = cbs.needs_batch_hooks("train")
    spe = model.steps_per_execution
    model.stop_training = False
    # A callback such as TerminateOnNaN asks, through `requires_finite_loss`, that a NaN step never
    # reaches the weights; so does nan_policy='raise'.
    run.nan_guard = nan_policy == "raise" or any(getattr(cb, "requires_finite_loss", False) for cb in cbs.callbacks)
    logs: dict[str, float] = {}
    previous = _start(model, run)
    # Inside a user's torch.autocast region, every step must cast the weights it trains, not the region's
    # cached casts of the first step's weights (which would leave the loss flat).
    autocast_cache = uncache_autocast(model._device())
    try:
        cbs.on_train_begin()
        start_epoch = run.initial_epoch  # a callback (BackupAndRestore resuming a run) may have moved it
        for epoch in range(start_epoch, epochs):
            model.reset_metrics()
            cbs.on_epoch_begin(epoch)
            model.train()
            last, step, hooked = None, -1, -1
            for step, batch in iterator.epoch():
                if run.replaying:
                    last = _replay(model, run, batch)
                    hooked = step  # a replayed batch fires no hooks: they fired before the backup
                    continue
                # With steps_per_execution=N, batch hooks fire once per N steps, as in Keras.
                if want_batch_hooks and step % spe == 0:
                    cbs.on_train_batch_begin(step)
                last = model.train_step(batch)
                if run.variables is None:  # once the model is built: walked once per fit, not per step
                    run.variables = model.trainable_weights
                    run.regularized = model._regularized_weights()
                if run.nonfinite_loss is not None and nan_policy == "raise":
                    raise FloatingPointError(
                        f"The loss became {run.nonfinite_loss} at epoch {epoch + 1}, step {step + 1}; that step "
                        "was not applied, so the weights are those from before it. Look for NaN/inf in the data, "
                        "lower the learning rate, or clip gradients (clipnorm=1.0).")
                if want_batch_hooks and (step + 1) % spe == 0:
                    hooked = step
                    cbs.on_train_batch_end(step, _batch_logs(last))
                if model.stop_training:
                    break
            if want_batch_hooks and last is not None and hooked != step:
                cbs.on_train_batch_end(step, _batch_logs(last))
            model.eval()
            if last is None:
                if iterator.exhausted:
                    break
                if epoch > start_epoch:  # a one-shot source (a generator) used up by the epochs before
                    warnings.warn("Your input ran out of data; interrupting training after epoch "
                                  f"{epoch} of {epochs}. A generator can be iterated once: pass a DataLoader or "
                                  "another re-iterable source, or set steps_per_epoch and make the generator "
                                  "infinite.", UserWarning, stacklevel=user_stacklevel())
                    break
                raise ValueError("The training data produced no batches; check that it is not empty.")
            logs = _float_logs(last)
            if val_iterator is not None and _should_validate(epoch, validation_freq):
                val_logs = _run_test(model, val_iterator, CallbackList(None, model=model))
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if model.stop_training or iterator.exhausted:
                break
        cbs.on_train_end(logs)
    finally:
        restore_autocast_cache(autocast_cache)
        model.eval()
        model.fit_run = previous
    return cbs.history


def _replay(model: TrainableModel, run: FitRun, batch: Any) -> LazyLogs:
    """Draws one batch trained before a mid-epoch backup without training on it (see `FitRun.resume_at`).

    The metrics are built first, from this batch, so the backup's running values can be put back into them
    after the last replayed batch; the random number generators are restored around that forward pass, so the
    resumed run draws exactly the numbers the uninterrupted one drew.
    """
    with preserved_rng():
        model.build_metrics(batch)
    run.replayed_one()
    return LazyLogs(model.get_metrics_result)


def _run_test(model: TrainableModel, iterator: EpochIterator, cbs: Any) -> dict[str, float]:
    model.reset_metrics()
    run = model.fit_run
    for observer in [] if run is None else run.observers:
        observer.reset_state()
    model.eval()
    drop_autocast_casts(model._device())  # in a user's autocast region, casts of weights trained since are stale
    want_batch_hooks = cbs.needs_batch_hooks("test")
    cbs.on_test_begin()
    last = None
    with torch.no_grad():
        for step, batch in iterator.epoch():
            if want_batch_hooks:
                cbs.on_test_batch_begin(step)
            last = model.test_step(batch)
            if want_batch_hooks:
                cbs.on_test_batch_end(step, _batch_logs(last))
    if last is None:
        raise ValueError("The evaluation data produced no batches; check that it is not empty.")
    logs = _float_logs(last)
    cbs.on_test_end(logs)
    return logs


def evaluate(model: TrainableModel, *, x: Any, y: Any, batch_size: Any, verbose: Any, sample_weight: Any,
             steps: Any, callbacks: Any) -> dict[str, float]:
    model._assert_compiled()
    batch_size = check_batch_size(batch_size) or 32
    _check_steps(steps, "steps")
    verbose = resolve_verbose(verbose)
    data = adapt(x, y, sample_weight, device=model._device(), require_y=model.compiled_loss is not None)
    iterator = EpochIterator(data, batch_size, steps_per_epoch=steps)
    _check_arrays(model, data, batch_size, forward=False)
    cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=model, verbose=verbose, epochs=1,
                       steps=iterator.num_steps)
    previous = _start(model, FitRun(kind="evaluate", data=data, sample_weight=sample_weight))
    try:
        return _run_test(model, iterator, cbs)
    finally:
        model.fit_run = previous


def _concat(outputs: list[Any]) -> Any:
    """The batches' outputs (tensors, or the same structure of tensors each time) as NumPy, batch axis joined."""

    def join(*parts: Any) -> np.ndarray:
        if not isinstance(parts[0], torch.Tensor):
            raise TypeError(f"predict_step returned {type(parts[0]).__name__}; expected tensors.")
        out = torch.cat(parts).detach()
        if out.is_floating_point() and out.itemsize < 4:
            # NumPy has no bfloat16 (nor float8); a low-precision output (a model cast with .to(torch.bfloat16),
            # or predict under autocast) comes back as float32, which holds its values exactly.
            out = out.float()
        return out.cpu().numpy()

    return tree.map_structure(join, *outputs)


def predict(model: TrainableModel, *, x: Any, batch_size: Any, verbose: Any, steps: Any, callbacks: Any) -> Any:
    batch_size = check_batch_size(batch_size) or 32
    _check_steps(steps, "steps")
    verbose = resolve_verbose(verbose)
    # No NaN scan here: a prediction cannot corrupt the model, and the scan would cost a quarter of the pass.
    data = adapt(x, device=model._device(), check_finite=False)
    iterator = EpochIterator(data, batch_size, steps_per_epoch=steps)
    cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=model, verbose=verbose, epochs=1,
                       steps=iterator.num_steps)
    want_batch_hooks = cbs.needs_batch_hooks("predict")
    model.eval()
    drop_autocast_casts(model._device())
    outputs = []
    cbs.on_predict_begin()
    with torch.no_grad():
        for step, batch in iterator.epoch():
            if want_batch_hooks:
                cbs.on_predict_batch_begin(step)
            out = model.predict_step(batch)
            outputs.append(out)
            if want_batch_hooks:
                cbs.on_predict_batch_end(step, {"outputs": out})
    cbs.on_predict_end()
    if not outputs:
        raise ValueError("predict got no batches; check that x is not empty.")
    return _concat(outputs)


def predict_batch(model: TrainableModel, x: Any) -> Any:
    data = adapt(x, device=model._device())
    model.eval()
    drop_autocast_casts(model._device())
    with torch.no_grad():
        return _concat([model.predict_step(data.all())])


def on_batch(model: TrainableModel, kind: str, x: Any, y: Any, sample_weight: Any,
             class_weight: Any) -> dict[str, float]:
    """train_on_batch / test_on_batch: metrics reset, one step, logs of that batch."""
    model._assert_compiled()
    if sample_weight is not None and class_weight is not None:
        raise ValueError("Pass either sample_weight or class_weight to train_on_batch, not both.")
    data = adapt(x, y, sample_weight, device=model._device(), require_y=model.compiled_loss is not None)
    batch = data.all() if class_weight is None else apply_class_weight(data.all(), class_weight)
    model.reset_metrics()
    if kind == "train":
        model.train()
        autocast_cache = uncache_autocast(model._device())  # this step casts the current weights (see fit)
        try:
            logs = model.train_step(batch)
        finally:
            restore_autocast_cache(autocast_cache)
            model.eval()
    else:
        drop_autocast_casts(model._device())
        with torch.no_grad():
            logs = model.test_step(batch)
    return _float_logs(logs)
