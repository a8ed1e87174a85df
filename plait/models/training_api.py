"""The Keras training API of `plait.Model`: compile, fit, evaluate, predict, the *_on_batch methods, and the
evaluation report.

These methods validate and document the arguments (Keras's names and defaults) and hand the work on: the
loops to `training/loop.py`, the steps to `Trainer`, the diagnostics and the report to `plait.evaluation`
(added as callbacks, so the loop never imports it).
"""
from __future__ import annotations

import functools
import threading
import weakref
from typing import Any, Callable, TypeVar

import numpy as np

from plait import optimizers
from plait.callbacks.callback import Callback
from plait.callbacks.history import History
from plait.training import loop
from plait.training.compile_utils import CompileLoss, CompileMetrics
from plait.training.trainer import Trainer

_JIT_CHOICES = ("auto", True, False)

F = TypeVar("F", bound=Callable[..., Any])
_CALL_LOCKS: "weakref.WeakKeyDictionary[Any, threading.RLock]" = weakref.WeakKeyDictionary()
_CALL_LOCKS_GUARD = threading.Lock()


def _one_call_at_a_time(method: F) -> F:
    """Serializes the model's fit/evaluate/predict/... calls across threads.

    They share state on the model (its running metrics, its train/eval mode, `fit_run`), so two threads calling
    `evaluate` at once would mix their counts; under this lock concurrent calls give the results of serial
    ones. The lock is re-entrant, so a callback may call `evaluate` or `predict` inside `fit`. It lives in a
    weak table here, not on the model, which stays picklable and copyable.
    """

    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _CALL_LOCKS_GUARD:
            lock = _CALL_LOCKS.get(self)
            if lock is None:
                lock = _CALL_LOCKS[self] = threading.RLock()
        with lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


class TrainingAPI(Trainer):
    """`compile`, `fit`, `evaluate`, `predict`, `train_on_batch`, ... of `plait.Model` (see its docs).

    Thread safety: `fit`, `evaluate`, `predict`, the `*_on_batch` methods, `predict_classes` and `report` may be
    called on one model from several threads; the calls run one at a time, so each gives the result it would
    give alone. `compile`, saving and changing layers are not guarded: do them from one thread, outside those
    calls.
    """

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto", auto_scale_loss: bool = True) -> None:
        """Configures the model for training: optimizer, loss and metrics (instances or string ids).

        Arguments and defaults follow Keras's `Model.compile`. Compiling again replaces the optimizer (and
        its state), the loss and the metrics; the weights are kept.

        Args:
            optimizer: A string id (case-insensitive class name: 'adam', 'sgd', 'rmsprop', 'adamw', ...)
                or an optimizer instance such as `plait.optimizers.Adam(learning_rate=1e-3)`. A string
                gives that optimizer with its default arguments. Default 'rmsprop', as in Keras.
            loss: A string id ('mse', 'mae', 'binary_crossentropy', 'categorical_crossentropy',
                'sparse_categorical_crossentropy', ...), a `plait.losses.Loss` instance, or a function
                `fn(y_true, y_pred)` returning per-sample losses; for a multi-output model, a list (in output
                order) or a dict keyed by output name, one per output. `None` (the default) means no loss:
                `fit` then needs a custom `train_step`.
            loss_weights: How to weight each output's loss in the total (which is what is minimized): a float
                for a single output, a list (output order) or a dict keyed by output name. `None` weighs
                each output 1.0.
            metrics: A list of metrics to report during training and evaluation: string ids ('accuracy',
                'precision', 'recall', 'auc', 'f1_score', 'mae', ...) or `plait.metrics.Metric` instances.
                'accuracy' (or 'acc') resolves to binary, categorical or sparse categorical accuracy from
                the loss and the shapes. For a multi-output model, a dict keyed by output name or a list of
                per-output lists; a flat list applies to every output. These metrics ignore
                `sample_weight` and `class_weight`.
            weighted_metrics: Like `metrics`, but weighted by `sample_weight` / `class_weight`.
            run_eagerly: If True, never compile the step (`jit_compile` is forced to False). Default False.
            steps_per_execution: A positive int N: callbacks' batch hooks fire once per N batches, as in
                Keras (each batch still takes its own gradient step). Default 1.
            jit_compile: 'auto' (the default) and False run the train step eagerly; True compiles forward,
                loss and backward as one `torch.compile`'d graph (with CUDA graphs for a model on CUDA),
                falling back to eager, with a `RuntimeWarning`, if the model cannot be traced.
            auto_scale_loss: Accepted for Keras compatibility; plait has no `mixed_float16` dtype policy,
                so it has no effect. Set `loss_scale_factor` on the optimizer to scale the loss.

        Raises:
            ValueError: If `jit_compile` or `steps_per_execution` is invalid, or a string id is unknown
                (the message suggests the closest names).

        Example:
            >>> import plait
            >>> model = plait.Sequential([plait.Input(shape=(4,)), plait.layers.Dense(3, activation="softmax")])
            >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            >>> type(model.optimizer).__name__
            'Adam'
        """
        if jit_compile not in _JIT_CHOICES:
            raise ValueError(f"jit_compile must be 'auto', True or False, got {jit_compile!r}.")
        if not isinstance(steps_per_execution, int) or steps_per_execution < 1:
            raise ValueError(f"steps_per_execution must be a positive integer, got {steps_per_execution!r}.")
        self.optimizer = optimizers.get(optimizer)
        self._reset_compile_state()
        # Not `self.loss = loss`: a torch loss module would become a submodule, its buffers (a class `weight`)
        # part of the model's weights and state_dict.
        self.__dict__["loss"] = loss
        self._compile_loss = CompileLoss(loss, loss_weights) if loss is not None else None
        self._compile_metrics = CompileMetrics(metrics, weighted_metrics)
        self.run_eagerly = bool(run_eagerly)
        self.steps_per_execution = steps_per_execution
        self.jit_compile = False if run_eagerly else jit_compile
        self._compile_config = {"optimizer": optimizer if isinstance(optimizer, str) else None, "loss": loss,
                                "loss_weights": loss_weights, "metrics": metrics, "weighted_metrics": weighted_metrics}
        self.compiled = True

    def _assert_compiled(self) -> None:
        if not self.compiled:
            raise ValueError("You must call compile() before training or evaluating the model, e.g. "
                             "model.compile(optimizer='adam', loss='mse').")

    # ------------------------------------------------------------------ public loops
    @_one_call_at_a_time
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: Any = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: Any = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: Any = 1, *, nan_policy: str | None = None, diagnostics: bool = True) -> History:
        """Trains the model for a fixed number of epochs (passes over the data) and returns a `History`.

        Arguments, defaults and behaviour follow Keras's `Model.fit`; `nan_policy` and `diagnostics` are
        plait additions.

        Args:
            x: Input data. One of: a NumPy array, a torch tensor, a pandas DataFrame or Series, or a nested
                list of numbers (one row per sample); for a multi-input model, a list of those in the order
                of the model's inputs, or a dict matched to the inputs by name (the `plait.Input(name=...)`
                names, or the keys of the dict of Inputs the model was built on); a
                `torch.utils.data.DataLoader` (or any other iterable, such as a torch `IterableDataset`)
                yielding batches `(x, y)` or `(x, y, sample_weight)`; or a Python generator yielding such
                batches. A map-style torch `Dataset` must be wrapped in a DataLoader.
            y: Target data, in the same forms as array `x` (a list in output order, or a dict keyed by
                output name, for a multi-output model), with as many rows as `x`. Required whenever a
                loss was compiled. Do not give it when `x` is a DataLoader, iterable or generator: the
                targets come from its batches.
            batch_size: Samples per gradient update, a positive int. `None` means 32. Do not give it when
                `x` is a DataLoader, iterable or generator, which makes its own batches (it is ignored).
            epochs: Index of the epoch to stop at, a non-negative int. Training runs epochs
                `initial_epoch` to `epochs - 1`, so with `initial_epoch` it is not the number of epochs run.
            verbose: 'auto', 0, 1 or 2. 0 is silent, 1 draws a live progress bar, 2 prints one line per
                epoch. 'auto' (the default) is 1 on a terminal and in Jupyter notebooks, and 2 when the
                output goes to a file or a pipe (a log).
            callbacks: A list of `plait.callbacks.Callback` instances to call during training, e.g.
                `EarlyStopping`, `ModelCheckpoint`. A `History` (returned) and, unless `verbose=0`, a
                progress bar are added automatically.
            validation_split: Fraction of the data, a float in (0, 1), to hold out for validation. As in
                Keras, the *last* rows of `x` and `y` are taken, before any shuffling, so sort or shuffle
                the data yourself first if it is ordered (by label, by time). Only for array-like `x`
                (a DataLoader or generator raises). Ignored when `validation_data` is given. 0.0 (the
                default) means no split.
            validation_data: Data to evaluate the loss and metrics on at the end of each epoch (never
                trained on): a tuple `(x_val, y_val)` or `(x_val, y_val, val_sample_weight)` of arrays,
                or a DataLoader / iterable yielding such batches. Its results are logged with a `val_`
                prefix (`val_loss`, `val_accuracy`). Overrides `validation_split`.
            shuffle: True (the default) reshuffles the training rows before every epoch; 'batch' shuffles
                the order of batch-sized chunks only; False keeps the order. Applies to array-like `x`
                only: a DataLoader shuffles itself (`DataLoader(..., shuffle=True)`). Validation data is
                never shuffled.
            class_weight: Optional dict `{class_index: weight}` that scales the loss of each sample by the
                weight of its class (classes not in the dict weigh 1.0), e.g. to pay more attention to a
                rare class. Integer or one-hot `y` (arg-max) both work. Single-output models only. When
                `sample_weight` is given too, the two are multiplied.
            sample_weight: Optional array of shape `(samples,)` of non-negative weights, one per training
                row, that scale each sample's loss (and the `weighted_metrics`). Not for a DataLoader or
                generator: have it yield `(x, y, sample_weight)` batches instead.
            initial_epoch: Epoch at which to start training, to resume an earlier run (see `epochs`).
                Default 0.
            steps_per_epoch: Batches that make up one epoch, a positive int. `None` (the default) means one
                full pass over the data. With it set, an iterable or generator is read on from where the
                previous epoch stopped instead of being restarted; a Python generator can only be
                iterated once, so give `steps_per_epoch` when training on one for more than one epoch.
            validation_steps: Batches of the validation data to evaluate each time, a positive int. `None`
                (the default) means all of it.
            validation_batch_size: Samples per validation batch. `None` (the default) means `batch_size`.
                Not for a validation DataLoader or generator.
            validation_freq: How often to validate: an int `n` runs validation every `n` epochs (default 1,
                every epoch); a list such as `[1, 5, 10]` names the (1-based) epochs to validate after.
            nan_policy: `None` (the default) trains on whatever the loss is. 'raise' checks every step's
                loss and raises `FloatingPointError` on NaN or inf, keeping the weights from before that
                step; it costs one device-to-host read per step.
            diagnostics: If True (the default), checks for common pitfalls and warns about each one found
                (a subclass of `plait.diagnostics.PitfallWarning`): validation rows copied from training, a
                label-sorted `validation_split`, class imbalance, overfitting, the accuracy paradox. The
                checks run once before and once after training; the train step itself is untouched. False
                skips them.

        Returns:
            A `History`: `history.history` maps each logged name (`'loss'`, metric names as given,
            `'val_loss'`, ...) to a list of one float per epoch run; `history.epoch` lists those epochs
            (0-based); `history.diagnostics` holds the pitfall findings. The same object is `model.history`.

        Raises:
            ValueError: If the model was not compiled, an argument is out of range (`batch_size`, `epochs`,
                `verbose`, `validation_split`, ...), `x` and `y` have different numbers of rows, the data
                holds NaN or inf, or `validation_split` is used with a DataLoader or generator.
            TypeError: If the data is not numeric (strings, ragged lists).
            FloatingPointError: With `nan_policy='raise'`, when a step's loss is not finite.

        Example:
            >>> import numpy as np, plait
            >>> x = np.random.rand(100, 4).astype("float32")
            >>> y = (x.sum(axis=1) > 2).astype("float32")
            >>> model = plait.Sequential([plait.Input(shape=(4,)),
            ...                           plait.layers.Dense(1, activation="sigmoid")])
            >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
            >>> history = model.fit(x, y, batch_size=32, epochs=3, validation_split=0.2, verbose=0)
            >>> sorted(history.history)
            ['accuracy', 'loss', 'val_accuracy', 'val_loss']
            >>> len(history.history["loss"])
            3
        """
        if diagnostics:
            from plait.evaluation.fit_diagnostics import FitDiagnostics

            callbacks = _with_callback(callbacks, FitDiagnostics())
        return loop.fit(self, x=x, y=y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_split=validation_split, validation_data=validation_data,
                        shuffle=shuffle, class_weight=class_weight, sample_weight=sample_weight,
                        initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                        validation_steps=validation_steps, validation_batch_size=validation_batch_size,
                        validation_freq=validation_freq, nan_policy=nan_policy)

    @_one_call_at_a_time
    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: Any = "auto",
                 sample_weight: Any = None, steps: int | None = None, callbacks: Any = None,
                 return_dict: bool = False, *, diagnostics: bool = True) -> float | list[float] | dict[str, float]:
        """Returns the loss and metric values of the model on the data, in inference mode (no weight updates).

        Arguments and defaults follow Keras's `Model.evaluate`; `diagnostics` is a plait addition.

        Args:
            x: Input data, in any form `fit` accepts: NumPy arrays, torch tensors, pandas DataFrame/Series,
                a list or dict of those for a multi-input model, or a DataLoader / iterable / generator
                yielding `(x, y)` or `(x, y, sample_weight)` batches.
            y: Target data, like `fit`'s `y`. Required when a loss was compiled; do not give it when `x` is
                a DataLoader, iterable or generator.
            batch_size: Samples per batch, a positive int. `None` means 32. Do not give it when `x` is a
                DataLoader, iterable or generator (it is ignored).
            verbose: 'auto', 0, 1 or 2. 0 is silent, 1 draws a live progress bar, 2 prints one line at the
                end. 'auto' (the default) is 1 on a terminal and in Jupyter notebooks, and 2 when the output
                goes to a file or a pipe.
            sample_weight: Optional array of shape `(samples,)` of non-negative weights for the loss and the
                `weighted_metrics`. Not for a DataLoader or generator (yield `(x, y, sample_weight)`).
            steps: Number of batches to evaluate, a positive int. `None` (the default) runs until the data
                is exhausted.
            callbacks: A list of `plait.callbacks.Callback` instances; their `on_test_*` hooks are called.
            return_dict: If False (the default), returns a single float when the model logs only the loss,
                else a list of floats; if True, a dict `{name: value}`.
            diagnostics: If True (the default), warns when the data holds rows the model was trained on
                (`DataLeakageWarning`) or when accuracy hides a class the model misses
                (`AccuracyParadoxWarning`), both in `plait.diagnostics`. False skips the checks.

        Returns:
            A float (the loss alone), a list of floats ordered as `model.metrics_names` (the loss, the
            per-output losses of a multi-output model, then the compiled metrics in order), or, with
            `return_dict=True`, a dict mapping those names to floats.

        Raises:
            ValueError: If the model was not compiled, the data is empty, `x` and `y` have different
                numbers of rows, or `batch_size`, `steps` or `verbose` is out of range.

        Example:
            >>> import numpy as np, plait
            >>> model = plait.Sequential([plait.Input(shape=(3,)), plait.layers.Dense(1)])
            >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
            >>> sorted(model.evaluate(np.ones((8, 3)), np.zeros(8), verbose=0, return_dict=True))
            ['loss', 'mae']
        """
        if diagnostics:
            from plait.evaluation.fit_diagnostics import EvaluateDiagnostics

            callbacks = _with_callback(callbacks, EvaluateDiagnostics())
        logs = loop.evaluate(self, x=x, y=y, batch_size=batch_size, verbose=verbose, sample_weight=sample_weight,
                             steps=steps, callbacks=callbacks)
        return self._format_logs(logs, return_dict)

    @_one_call_at_a_time
    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto", steps: int | None = None,
                callbacks: Any = None) -> np.ndarray | list | dict:
        """Returns the model's outputs for the input samples as NumPy arrays, computed batch by batch.

        Runs in inference mode (dropout off, no gradients). Arguments and defaults follow Keras's
        `Model.predict`.

        Args:
            x: Input samples: a NumPy array, torch tensor, pandas DataFrame or nested list; a list or dict
                of those for a multi-input model (as in `fit`); or a DataLoader / iterable / generator
                yielding batches `x`, `(x,)` or `(x, y)` (any `y` is ignored).
            batch_size: Samples per batch, a positive int. `None` means 32. Do not give it when `x` is a
                DataLoader, iterable or generator (it is ignored).
            verbose: 'auto', 0, 1 or 2. 0 is silent, 1 draws a live progress bar, 2 prints one line at the
                end. 'auto' (the default) is 1 on a terminal and in Jupyter notebooks, and 2 when the output
                goes to a file or a pipe.
            steps: Number of batches to predict, a positive int. `None` (the default) runs until the data is
                exhausted.
            callbacks: A list of `plait.callbacks.Callback` instances; their `on_predict_*` hooks are called.

        Returns:
            For a single-output model a NumPy array with one row per sample, e.g. shape `(samples, units)`;
            for a multi-output model a list (or, for a model built with an outputs dict, a dict) of such
            arrays.

        Raises:
            ValueError: If `x` is empty or `batch_size`, `steps` or `verbose` is out of range.

        Example:
            >>> import numpy as np, plait
            >>> model = plait.Sequential([plait.Input(shape=(3,)), plait.layers.Dense(2)])
            >>> model.predict(np.ones((5, 3)), verbose=0).shape
            (5, 2)
        """
        return loop.predict(self, x=x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)

    # ------------------------------------------------------------------ evaluation (plait.evaluation)
    @_one_call_at_a_time
    def predict_classes(self, x: Any, threshold: Any = None, *, batch_size: int | None = None,
                        verbose: Any = 0) -> np.ndarray:
        """Returns the predicted class id of each sample (a plait addition; Keras 2 had it on Sequential).

        Logit outputs (a loss compiled with `from_logits=True`) are turned into probabilities first, so a
        threshold always means a probability.

        Args:
            x: Input samples, in any form `predict` accepts.
            threshold: Decision threshold(s) on the class probabilities. `None` (the default): class 1 where
                the probability is above 0.5 for a one-unit (sigmoid) model, the arg-max class otherwise. A
                number: the threshold of class 1 of a two-class model. A `ThresholdChoice` from
                `model.report(x, y).threshold_for(recall=...)`: applied to its class. A dict
                `{class_id: number or ThresholdChoice}`, or a list of ThresholdChoices: a class fires when its
                probability is above its threshold; each sample gets the firing class with the highest
                probability, or, when none fires, the arg-max over the classes without a threshold (over all
                classes if every class has one); ties go to the lower class id.
            batch_size: Samples per batch, as in `predict`. `None` means 32.
            verbose: As in `predict`, but default 0 (silent).

        Returns:
            A NumPy int64 array of shape `(samples,)` with one class id per sample.

        Raises:
            ValueError: If the model has several outputs, or `threshold` does not say which class it applies
                to (a bare number for a model with more than two classes) or names a class the model lacks.
            TypeError: If `threshold` is not a number, a `ThresholdChoice`, a dict or a list of them.
            ValueError: If rows of `x`, or of the model's outputs, hold NaN or inf: no class is chosen from a
                missing value (see the NaN policy in plait/evaluation/model_api.py).

        Example:
            >>> import numpy as np, plait
            >>> model = plait.Sequential([plait.Input(shape=(3,)), plait.layers.Dense(4, activation="softmax")])
            >>> model.predict_classes(np.ones((2, 3))).shape
            (2,)
        """
        from plait.evaluation.model_api import predict_classes

        return predict_classes(self, x, threshold, batch_size=batch_size, verbose=verbose)

    @_one_call_at_a_time
    def report(self, x: Any, y: Any, *, batch_size: int | None = None, threshold: Any = 0.5, class_names: Any = None,
               history: Any = "auto", n_bootstrap: int = 1000, confidence: float = 0.95, seed: int | None = 0,
               ci_method: str = "bca", diagnostics: bool = True, verbose: Any = 0) -> Any:
        """Returns the evaluation report of the model on (x, y) (a plait addition).

        For a classifier: the confusion matrix, per-class precision/recall/F1, accuracy next to the majority
        baseline, ROC-AUC and PR-AUC with bootstrap intervals, thresholds and the diagnostics; for a regression
        model, the error measures. Read it with `print(report)` or save it with `report.save_html(path)`.

        Args:
            x: Input samples (ideally a held-out test set), in any form `predict` accepts.
            y: The true targets for `x`, an array-like with one row per sample: class ids or one-hot rows for
                a classifier, values for a regression model.
            batch_size: Samples per prediction batch, as in `predict`. `None` means 32.
            threshold: Decision threshold of a binary model: class 1 where its probability is above it.
                Default 0.5.
            class_names: Display names of the classes: a list indexed by class id, or a dict. `None` shows
                the ids.
            history: The `History` whose learning curves (and their diagnostics) to include; 'auto' (the
                default) takes the model's last `fit`, `None` leaves them out.
            n_bootstrap: Bootstrap resamples for the confidence intervals; 0 skips them. Default 1000.
            confidence: Confidence level of the intervals, in (0, 1). Default 0.95.
            seed: Seed of the bootstrap resampling, so intervals are reproducible. Default 0.
            ci_method: How the bootstrap intervals are formed: 'bca' (the default: bias-corrected and
                accelerated, which stays honest on small or near-perfect test sets; percentile where BCa is
                undefined) or 'percentile'. `report.interval_methods` says which method gave each interval.
            diagnostics: If True (the default), checks this data for rows seen in training and warns about
                the pitfalls found (e.g. the accuracy paradox). False skips the leakage check and the
                warnings.
            verbose: As in `predict`, but default 0 (silent).

        Returns:
            A `plait.evaluation.ClassificationReport` for a classifier, else a
            `plait.evaluation.RegressionReport`.

        Raises:
            ValueError: If the model has several outputs, `x` and `y` have different numbers of samples, rows
                of `x`, `y` or the model's outputs hold NaN or inf, or a classifier's labels fall outside its
                classes (negative, too large, fractional, or one-hot rows of another width).
        """
        from plait.evaluation.model_api import model_report

        return model_report(self, x, y, batch_size=batch_size, threshold=threshold, class_names=class_names,
                            history=history, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed,
                            ci_method=ci_method, diagnostics=diagnostics, verbose=verbose)

    def _format_logs(self, logs: dict[str, float], return_dict: bool) -> Any:
        if return_dict:
            return dict(logs)
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    @_one_call_at_a_time
    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: dict | None = None,
                       return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """Runs one gradient update on a single batch of data and returns its loss and metrics.

        The metrics are reset first, so the values are those of this batch alone.

        Args:
            x: Input data for one batch: an array, tensor, DataFrame, or a list/dict of them for a
                multi-input model. All rows form one batch.
            y: Target data for the batch, like `fit`'s `y`. Required when a loss was compiled.
            sample_weight: Optional array of shape `(samples,)` weighting each sample's loss.
            class_weight: Optional dict `{class_index: weight}` scaling each sample's loss by its class's
                weight. Give either `sample_weight` or `class_weight`, not both.
            return_dict: If True, returns a dict `{name: value}` instead of a float or list.

        Returns:
            The batch's loss as a float when it is the only logged value, else a list of floats ordered as
            `model.metrics_names`; a dict with `return_dict=True`.

        Raises:
            ValueError: If the model was not compiled, or both `sample_weight` and `class_weight` are given.
        """
        return self._format_logs(loop.on_batch(self, "train", x, y, sample_weight, class_weight), return_dict)

    @_one_call_at_a_time
    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """Returns the loss and metrics of the model on a single batch, without updating the weights.

        The metrics are reset first, so the values are those of this batch alone.

        Args:
            x: Input data for one batch: an array, tensor, DataFrame, or a list/dict of them for a
                multi-input model. All rows form one batch.
            y: Target data for the batch, like `fit`'s `y`. Required when a loss was compiled.
            sample_weight: Optional array of shape `(samples,)` weighting each sample's loss.
            return_dict: If True, returns a dict `{name: value}` instead of a float or list.

        Returns:
            The batch's loss as a float when it is the only logged value, else a list of floats ordered as
            `model.metrics_names`; a dict with `return_dict=True`.

        Raises:
            ValueError: If the model was not compiled.
        """
        return self._format_logs(loop.on_batch(self, "test", x, y, sample_weight, None), return_dict)

    @_one_call_at_a_time
    def predict_on_batch(self, x: Any) -> np.ndarray | list | dict:
        """Returns the model's outputs for a single batch of samples as NumPy arrays (inference mode).

        Args:
            x: Input samples for one batch: an array, tensor, DataFrame, or a list/dict of them for a
                multi-input model. All rows form one batch.

        Returns:
            A NumPy array with one row per sample; a list or dict of arrays for a multi-output model, as
            from `predict`.
        """
        return loop.predict_batch(self, x)

    def get_compile_config(self) -> dict[str, Any]:
        return dict(self._compile_config)


def _with_callback(callbacks: Any, extra: Any) -> Any:
    """`callbacks` (None, one callback, or a possibly nested list, which CallbackList checks) plus `extra`."""
    if callbacks is None:
        return [extra]
    if isinstance(callbacks, (list, tuple)):
        return [*callbacks, extra]
    return [callbacks, extra] if isinstance(callbacks, Callback) else callbacks  # a wrong type: CallbackList says so
