"""Model: a Layer that can be compiled, trained (fit), evaluated and used to predict."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait import config, metrics as metrics_mod, optimizers
from plait.data.adapter import unpack_x_y_sample_weight
from plait.data.tree import leaves
from plait.layers.layer import Layer
from plait.training import loop
from plait.training.compile_utils import CompileLoss, CompileMetrics
from plait.training.logs import LazyLogs

_JIT_CHOICES = ("auto", True, False)


class Model(Layer):
    """A trainable model. Subclass it and implement `call`, or build one from symbolic tensors.

    Args:
        inputs: For the functional API, the `plait.Input(...)` tensor(s).
        outputs: For the functional API, the output tensor(s) computed from `inputs`.
        name: Model name.

    Example:
        >>> import plait
        >>> inputs = plait.Input(shape=(4,))
        >>> outputs = plait.layers.Dense(2)(inputs)
        >>> model = plait.Model(inputs, outputs)
        >>> model.output_shape
        (None, 2)
    """

    # Set by plait.evaluation during an evaluation pass: receives each batch's outputs (diagnostics).
    _output_sink: Any = None

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        super().__init__(name=name, trainable=trainable, **kwargs)
        self.compiled = False
        self.optimizer: Any = None
        self.stop_training = False
        self.history: Any = None
        self._nan_guard = False  # set by fit when a NaN loss must not reach the weights
        self._nonfinite_loss: float | None = None
        self._graph = None
        self._reset_compile_state()
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("The functional API needs both inputs and outputs: plait.Model(inputs, outputs).")
            from plait.models.functional import FunctionalGraph

            self._graph = FunctionalGraph(inputs, outputs)
            self._graph_layers = torch.nn.ModuleList(self._graph.layers)
            self._build_shape = self._graph.input_shapes
            self.built = True

    def _reset_compile_state(self) -> None:
        self._compile_loss: CompileLoss | None = None
        self._compile_metrics: CompileMetrics | None = None
        self._loss_tracker = metrics_mod.Mean(name="loss")
        self._output_loss_trackers: list[Any] = []
        self._compile_built = False
        self._compile_config: dict[str, Any] = {}
        self._compiled_forward: Any = None

    # ------------------------------------------------------------------ structure
    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if self._graph is None:
            raise NotImplementedError(f"Model {self.name!r} has no call(): subclass plait.Model and implement "
                                      "call(self, inputs, training=None), or use plait.Model(inputs, outputs).")
        return self._graph.run(inputs, training=training)

    @property
    def layers(self) -> list[Layer]:
        if self._graph is not None:
            return list(self._graph.layers)
        return [m for m in self.children() if isinstance(m, Layer)]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called `name`, or at position `index` in `layers`."""
        if (name is None) == (index is None):
            raise ValueError("Give exactly one of name= or index= to get_layer.")
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"get_layer index {index} is out of range: the model has {len(self.layers)} layers.")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r}; the layers are {[layer.name for layer in self.layers]}.")

    @property
    def output_names(self) -> list[str]:
        if self._graph is not None:
            return self._graph.output_names
        return ["output"]

    def build(self, input_shape: Any) -> None:
        """Builds the weights by running the model once on a zero batch of `input_shape`."""
        if self.built:
            return
        self.compute_output_shape(input_shape)
        self._build_shape = input_shape
        self.built = True

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self._build_shape = input_shape
            self.built = True  # children build lazily inside the first call

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._graph is not None:
            return self._graph.output_shapes
        return super().compute_output_shape(input_shape)

    @property
    def output_shape(self) -> Any:
        if self._build_shape is None:
            raise AttributeError(f"Model {self.name!r} has no defined output shape yet: it has not been built. "
                                 "Give the first layer input_shape=..., start with plait.Input(shape), or call "
                                 "the model on data first.")
        return self.compute_output_shape(self._build_shape)

    def summary(self, line_length: int | None = None, positions: Any = None, print_fn: Any = None,
                expand_nested: bool = False, show_trainable: bool = False) -> None:
        """Prints a table of layers with output shapes and parameter counts, and the totals."""
        from plait.models.summary import print_summary

        print_summary(self, line_length=line_length, print_fn=print_fn, show_trainable=show_trainable)

    def count_params(self) -> int:
        if not self.built or (not list(self.parameters()) and any(not la.built for la in self.layers)):
            raise ValueError(f"Model {self.name!r} has not been built yet, so it has no weights to count. "
                             "Give the first layer input_shape=..., or call the model on data first.")
        return int(sum(p.numel() for p in self.parameters()))

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto", auto_scale_loss: bool = True) -> None:
        """Configures the model for training: optimizer, loss and metrics (instances or string ids).

        Args:
            optimizer: e.g. 'adam' or `plait.optimizers.Adam(1e-3)`. Default 'rmsprop', as Keras.
            loss: e.g. 'sparse_categorical_crossentropy', a `plait.losses.Loss`, a function
                `fn(y_true, y_pred)`, or a list/dict with one per output.
            loss_weights: Scalars weighting each output's loss in the total.
            metrics: A list (or per-output list/dict) of metric ids or instances, e.g. ['accuracy'].
            weighted_metrics: Metrics that receive `sample_weight`/`class_weight`.
            run_eagerly, steps_per_execution, jit_compile: execution options (eager by default).
        """
        if jit_compile not in _JIT_CHOICES:
            raise ValueError(f"jit_compile must be 'auto', True or False, got {jit_compile!r}.")
        if not isinstance(steps_per_execution, int) or steps_per_execution < 1:
            raise ValueError(f"steps_per_execution must be a positive integer, got {steps_per_execution!r}.")
        self.optimizer = optimizers.get(optimizer)
        self._reset_compile_state()
        self.loss = loss
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

    def _flat_outputs(self, y: Any) -> list[torch.Tensor]:
        if isinstance(y, dict):
            missing = [n for n in self.output_names if n not in y]
            if missing:
                raise ValueError(f"Missing targets for outputs {missing}; got keys {sorted(y)}.")
            return [y[n] for n in self.output_names]
        if isinstance(y, (list, tuple)):
            return list(y)
        return [y]

    def _build_compile(self, y: Any, y_pred: Any) -> None:
        y_true, y_hat = self._flat_outputs(y), self._flat_outputs(y_pred)
        if len(y_true) != len(y_hat):
            raise ValueError(f"The model has {len(y_hat)} outputs but y has {len(y_true)} targets; pass one "
                             "target array per output.")
        names = self.output_names if len(y_hat) == len(self.output_names) else \
            [f"output_{i}" for i in range(len(y_hat))]
        losses = None
        if self._compile_loss is not None:
            self._compile_loss.build(y_true, y_hat, names)
            losses = self._compile_loss.losses
            if len(y_hat) > 1:
                self._output_loss_trackers = [metrics_mod.Mean(name=f"{n}_loss") for n in names]
        self._compile_metrics.build(y_true, y_hat, names, losses)
        self._compile_built = True

    # ------------------------------------------------------------------ steps
    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> torch.Tensor:
        """The total loss for one batch (compiled losses, weighted, summed)."""
        if self._compile_loss is None:
            raise ValueError("No loss to optimize: pass loss=... to compile(), or override compute_loss/train_step.")
        if y is None:
            raise ValueError("The batch has no targets y, but the compiled loss needs them.")
        total, parts = self._loss_and_parts(y, y_pred, sample_weight)
        self._last_loss_parts = parts
        return total

    def _loss_and_parts(self, y: Any, y_pred: Any, sample_weight: Any) -> tuple[torch.Tensor, list]:
        """Compiled losses (weighted, summed) plus the weights' regularization penalties, as Keras adds them."""
        total, parts = self._compile_loss(self._flat_outputs(y), self._flat_outputs(y_pred), sample_weight)
        penalties = self.losses
        if penalties:
            total = total + torch.stack(penalties).sum()
        return total, parts

    def _track_loss(self, loss: torch.Tensor, x: Any) -> None:
        # Keras weights each batch's loss by its size, so the epoch loss is a per-sample mean.
        batch = x.shape[0] if isinstance(x, torch.Tensor) else leaves(x)[0].shape[0]
        self._loss_tracker.update_scalar(loss, batch)
        for tracker, part in zip(self._output_loss_trackers, getattr(self, "_last_loss_parts", [])):
            tracker.update_scalar(part, batch)

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> LazyLogs:
        """Updates the compiled metrics with one batch; returns the logs (computed only when read)."""
        if y is not None:
            self._compile_metrics.update_state(self._flat_outputs(y), self._flat_outputs(y_pred), sample_weight)
        return LazyLogs(self.get_metrics_result)

    def train_step(self, data: Any) -> Any:
        """One optimization step on one batch: forward, loss, gradients, `optimizer.apply`, metrics."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        if self._compile_built:
            y_pred, loss, parts = self._forward_fn()(x, y, sample_weight)
        else:  # the first step resolves losses and metrics from its own forward pass (no extra dropout draw)
            y_pred = self(x, training=True)
            self._build_compile(y, y_pred)
            loss, parts = self._loss_and_parts(y, y_pred, sample_weight)
        self._last_loss_parts = parts
        variables = self._train_variables()
        if self._nan_guard and not bool(torch.isfinite(loss.detach())):
            # The step is skipped, so the weights stay as they were before the bad batch.
            self._nonfinite_loss = float(loss.detach())
        elif variables:
            grads = torch.autograd.grad(loss, variables, allow_unused=True)
            self.optimizer.apply(list(grads), variables)
        self._track_loss(loss, x)
        with torch.no_grad():
            return self.compute_metrics(x, y, y_pred.detach() if isinstance(y_pred, torch.Tensor) else y_pred,
                                        sample_weight)

    def _forward_and_loss(self, x: Any, y: Any, sample_weight: Any) -> tuple[Any, torch.Tensor, list]:
        y_pred = self(x, training=True)
        total, parts = self._loss_and_parts(y, y_pred, sample_weight)
        return y_pred, total, parts

    def _forward_fn(self) -> Any:
        """The forward+loss function of a train step: eager, or compiled with torch.compile (jit_compile=True).

        Only forward and loss are compiled (AOTAutograd derives the backward); the optimizer keeps its fused
        kernels, so both paths apply the same update rule.
        """
        if self._compile_loss is None:
            raise ValueError("No loss to optimize: pass loss=... to compile(), or override train_step.")
        if self.jit_compile is not True:
            return self._forward_and_loss
        if self._compiled_forward is None:
            self._compiled_forward = torch.compile(self._forward_and_loss)
        return self._compiled_forward

    def _train_variables(self) -> list[torch.nn.Parameter]:
        cached = getattr(self, "_train_vars_cache", None)
        return cached if cached is not None else self.trainable_weights

    def test_step(self, data: Any) -> Any:
        """One evaluation step: forward in inference mode, loss and metrics."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        if self._output_sink is not None:
            self._output_sink(y_pred)
        if not self._compile_built:
            self._build_compile(y, y_pred)
        if self._compile_loss is not None and y is not None:
            self._track_loss(self.compute_loss(x, y, y_pred, sample_weight, training=False), x)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data: Any) -> Any:
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ------------------------------------------------------------------ metrics
    @property
    def metrics(self) -> list[Any]:
        tracked = [self._loss_tracker] if self._compile_loss is not None else []
        tracked += self._output_loss_trackers
        if self._compile_metrics is not None:
            tracked += self._compile_metrics.metrics
        return tracked

    @property
    def metrics_names(self) -> list[str]:
        return [getattr(m, "log_name", m.name) for m in self.metrics]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self) -> dict[str, torch.Tensor]:
        """Current value of every metric (tensors on the device; no host copy)."""
        return {getattr(m, "log_name", m.name): m.result() for m in self.metrics}

    # ------------------------------------------------------------------ public loops
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: Any = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: Any = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: Any = 1, *, nan_policy: str | None = None, diagnostics: bool = True) -> Any:
        """Trains the model for `epochs` passes over the data and returns a `History`.

        Arguments, defaults and behaviour follow Keras's `Model.fit`: `validation_split` takes the *last*
        fraction of the rows before shuffling; `class_weight` and `sample_weight` multiply each sample's loss.

        `nan_policy='raise'` (a plait addition) checks every step's loss and raises on NaN or inf, keeping
        the weights from before that step; it costs one device-to-host read per step.

        `diagnostics=True` (a plait addition) checks for pitfalls and warns about them: validation rows copied
        from training, a label-sorted `validation_split`, class imbalance, overfitting, the accuracy paradox
        (see `plait.diagnostics`). The findings are also in `history.diagnostics`. The checks run once before
        and once after training; the train step itself is untouched.
        """
        return loop.fit(self, x=x, y=y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_split=validation_split, validation_data=validation_data,
                        shuffle=shuffle, class_weight=class_weight, sample_weight=sample_weight,
                        initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                        validation_steps=validation_steps, validation_batch_size=validation_batch_size,
                        validation_freq=validation_freq, nan_policy=nan_policy, diagnostics=diagnostics)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: Any = "auto",
                 sample_weight: Any = None, steps: int | None = None, callbacks: Any = None,
                 return_dict: bool = False, *, diagnostics: bool = True) -> Any:
        """Loss and metrics on the data: a scalar (loss only), a list, or a dict with `return_dict=True`.

        With `diagnostics=True` (a plait addition) it warns when the data holds rows seen in training or when
        accuracy hides a class the model misses (`plait.diagnostics.AccuracyParadoxWarning`).
        """
        logs = loop.evaluate(self, x=x, y=y, batch_size=batch_size, verbose=verbose, sample_weight=sample_weight,
                             steps=steps, callbacks=callbacks, diagnostics=diagnostics)
        return self._format_logs(logs, return_dict)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto", steps: int | None = None,
                callbacks: Any = None) -> Any:
        """Model outputs for `x` as NumPy arrays (inference mode, batched)."""
        return loop.predict(self, x=x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)

    # ------------------------------------------------------------------ evaluation (plait.evaluation)
    def predict_classes(self, x: Any, threshold: Any = None, *, batch_size: int | None = None,
                        verbose: Any = 0) -> np.ndarray:
        """Class ids for `x` (a plait addition; Keras 2 had it on Sequential).

        Args:
            x: Input data.
            threshold: For a binary model, class 1 where its probability is above this (default 0.5); a
                number or the `ThresholdChoice` from `report.threshold_for(recall=...)`. Multi-class models
                predict the arg-max.
            batch_size, verbose: As in `predict`.

        Returns:
            A (samples,) int64 array of class ids.
        """
        from plait.evaluation.model_api import predict_classes

        return predict_classes(self, x, threshold, batch_size=batch_size, verbose=verbose)

    def report(self, x: Any, y: Any, *, batch_size: int | None = None, threshold: Any = 0.5, class_names: Any = None,
               history: Any = "auto", n_bootstrap: int = 1000, confidence: float = 0.95, seed: int | None = 0,
               diagnostics: bool = True, verbose: Any = 0) -> Any:
        """The evaluation report on (x, y): a `ClassificationReport` or `RegressionReport` (a plait addition).

        Confusion matrix, per-class precision/recall/F1, accuracy next to the majority baseline, ROC-AUC and
        PR-AUC with bootstrap intervals, thresholds, the diagnostics; `print(report)`, `report.save_html(path)`.

        Args:
            x, y: Evaluation data (ideally a held-out test set).
            threshold: Decision threshold of a binary model.
            class_names: Display names of the classes.
            history: The `History` whose learning curves to include; 'auto' takes the model's last fit.
            n_bootstrap, confidence, seed: The bootstrap confidence intervals (n_bootstrap=0 skips them).
            diagnostics: Warn about pitfalls found on this data (accuracy paradox, rows seen in training).
            batch_size, verbose: As in `predict`.
        """
        from plait.evaluation.model_api import model_report

        return model_report(self, x, y, batch_size=batch_size, threshold=threshold, class_names=class_names,
                            history=history, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed,
                            diagnostics=diagnostics, verbose=verbose)

    def _format_logs(self, logs: dict[str, float], return_dict: bool) -> Any:
        if return_dict:
            return dict(logs)
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: dict | None = None,
                       return_dict: bool = False) -> Any:
        """One gradient step on one batch; returns the loss (and metrics) on that batch."""
        return self._format_logs(loop.on_batch(self, "train", x, y, sample_weight, class_weight), return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False) -> Any:
        """Loss (and metrics) on one batch, without updating the weights."""
        return self._format_logs(loop.on_batch(self, "test", x, y, sample_weight, None), return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        """Model outputs for one batch as NumPy arrays."""
        return loop.predict_batch(self, x)

    def get_compile_config(self) -> dict[str, Any]:
        return dict(self._compile_config)

    # ------------------------------------------------------------------ saving (done by plait.saving)
    def get_config(self) -> dict[str, Any]:
        """The architecture as a JSON-friendly dict; for a functional model, its layers and how they connect."""
        from plait.models.functional import functional_config

        return functional_config(self) if self._graph is not None else super().get_config()

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> "Model":
        """Rebuilds a model from `get_config()`'s output (a functional graph, or a subclass's own config)."""
        from plait.models.functional import functional_from_config

        if isinstance(config, dict) and "layers" in config and "input_layers" in config:
            return functional_from_config(cls, config, custom_objects)
        return cls(**config)

    def save(self, filepath: Any, overwrite: bool = True) -> None:
        """Saves architecture, weights, compile config and optimizer state to one `.plait` file, atomically."""
        from plait import saving

        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        """Saves the weights only to a `.weights.safetensors` file, atomically."""
        from plait import saving

        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: Any, skip_mismatch: bool = False) -> None:
        """Loads weights from a `.safetensors` (or `.plait`) file; mismatches raise unless `skip_mismatch`."""
        from plait import saving

        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture (no weights) as JSON; `plait.saving.model_from_json` rebuilds it."""
        import json

        from plait.saving.serialization import serialize_model

        return json.dumps(serialize_model(self), **kwargs)

    def _device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return config.get_device()

    def __repr__(self) -> str:
        return f"<plait.{type(self).__name__} name={self.name!r}, built={self.built}>"


def as_numpy(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, (list, tuple)):
        return type(x)(as_numpy(v) for v in x)
    if isinstance(x, dict):
        return {k: as_numpy(v) for k, v in x.items()}
    return np.asarray(x)
