"""Model: a Layer that can be compiled, trained (fit), evaluated and used to predict."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait import config, metrics as metrics_mod, optimizers
from plait.layers.layer import Layer
from plait.training import loop
from plait.training.compile_utils import CompileLoss, CompileMetrics
from plait.training.trainer import Trainer

_JIT_CHOICES = ("auto", True, False)


class Model(Trainer, Layer):
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
        self._compiled_step: Any = None  # the jit_compile=True gradient step (training/compiled_step.py)
        self._unused_variables: Any = None  # (ids of the variables, indices the last eager step found unused)

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
                `jit_compile=True` compiles forward, loss and backward as one torch.compile'd graph (CUDA
                graphs for a model on CUDA); `steps_per_execution=N` fires the batch hooks once per N batches.
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

