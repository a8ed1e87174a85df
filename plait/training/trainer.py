"""Trainer: the compile state of a model and what one training, evaluation or prediction step does.

Mixed into `plait.Model`. A step resolves the compiled losses and metrics from its first batch, runs forward
and loss and takes gradients (eagerly with autograd, or as one torch.compile'd graph with jit_compile=True),
hands them to `optimizer.apply`, the same update rule a GradientTape loop uses, and updates the metrics on the
device. During `fit` a step reads the run's state from `self.fit_run` (training/run.py), never from loose
attributes.
"""
from __future__ import annotations

from typing import Any

import torch

from plait import metrics as metrics_mod
from plait.callbacks.logs import LazyLogs
from plait.data import unpack_x_y_sample_weight
from plait.training.compile_utils import CompileLoss, CompileMetrics
from plait.training.compiled_step import CompiledGradients
from plait.training.run import FitRun
from plait.tree import flatten


def _batch_rows(x: Any) -> int:
    return x.shape[0] if isinstance(x, torch.Tensor) else flatten(x)[0].shape[0]


class Trainer:
    """The step methods of `plait.Model`; override `train_step`/`test_step`/`predict_step` to customize.

    Keras's contract holds: each step takes one batch (`(x,)`, `(x, y)` or `(x, y, sample_weight)`) and
    returns the logs, a mapping of name to value.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compiled = False
        self.optimizer: Any = None
        self.stop_training = False
        self.fit_run: FitRun | None = None  # the running fit's state (training/run.py); None outside fit
        self.steps_per_execution = 1
        self.jit_compile: Any = "auto"
        self._reset_compile_state()

    def _reset_compile_state(self) -> None:
        self._compile_loss: CompileLoss | None = None
        self._compile_metrics: CompileMetrics | None = None
        self._loss_tracker = metrics_mod.Mean(name="loss")
        self._output_loss_trackers: list[Any] = []
        self._last_loss_parts: list[Any] = []
        self._compile_built = False
        self._tracks_loss = False  # set when a model compiled without a loss trains on its add_loss terms
        self._compile_config: dict[str, Any] = {}
        self._compiled_step: CompiledGradients | None = None  # the jit_compile=True gradient step
        self._unused_variables: Any = None  # (ids of the variables, indices the last eager step found unused)

    @property
    def compiled_loss(self) -> CompileLoss | None:
        """The loss given to `compile`, resolved per output (None when compiled without a loss)."""
        return self._compile_loss

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
            if len(y_hat) > 1:  # one tracker per output that has a loss, in the order the loss parts come
                self._output_loss_trackers = [metrics_mod.Mean(name=f"{n}_loss")
                                              for n, loss in zip(names, losses) if loss is not None]
        self._compile_metrics.build(y_true, y_hat, names, losses)
        self._compile_built = True

    def check_batch(self, data: Any) -> None:
        """Runs one inference pass over a batch: an error in the inputs' shapes or structure surfaces here,
        before training, and the compiled losses and metrics are resolved from it if they are not yet."""
        x, y, _ = unpack_x_y_sample_weight(data)
        # A stateful layer (a stateful RNN) carries states from call to call: this pass must not move them.
        carried = [(m, m.states) for m in self.modules() if getattr(m, "stateful", False) is True
                   and hasattr(m, "states")]
        try:
            with torch.no_grad():
                y_pred = self(x, training=False)
        finally:
            for module, states in carried:
                module.states = states
        if not self._compile_built:
            self._build_compile(y, y_pred)

    def build_metrics(self, data: Any) -> None:
        """Resolves the compiled losses and metrics from one batch with an inference forward pass.

        A step does this by itself on its first batch; `fit` calls it first where the metrics must exist
        before any step runs (resuming mid-epoch, whose saved running metrics are restored into them).
        """
        if not self._compile_built:
            self.check_batch(data)

    # ------------------------------------------------------------------ steps
    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> torch.Tensor:
        """The total loss for one batch (compiled losses, weighted, summed)."""
        if y is None and self._compile_loss is not None:
            raise ValueError("The batch has no targets y, but the compiled loss needs them.")
        if not self._compile_built:  # a custom train_step's first batch: resolve the losses as Keras does here
            self._build_compile(y, y_pred)
        total, parts = self._loss_and_parts(y, y_pred, sample_weight)
        self._last_loss_parts = parts
        return total

    def _loss_and_parts(self, y: Any, y_pred: Any, sample_weight: Any,
                        penalties: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, list]:
        """Compiled losses (weighted, summed) plus the weights' regularization penalties (default: those of
        the run's cached regularized weights, else `self.losses`) and the `add_loss` terms, as Keras adds them."""
        if penalties is None:
            run = self.fit_run
            penalties = self.losses if run is None or run.regularized is None else \
                [reg(var) for var, reg in run.regularized] + self._collect_added_losses()
        if self._compile_loss is None:
            if not penalties:
                raise ValueError("No loss to optimize: pass loss=... to compile(), add loss terms with "
                                 "self.add_loss(...) in a layer's call, or override compute_loss/train_step.")
            self._tracks_loss = True  # a model trained on its add_loss terms alone logs them as 'loss', as Keras
            return torch.stack([p.reshape(()) for p in penalties]).sum(), []
        total, parts = self._compile_loss(self._flat_outputs(y), self._flat_outputs(y_pred), sample_weight)
        if penalties:
            total = total + torch.stack(penalties).sum()
        return total, parts

    def _track_loss(self, loss: torch.Tensor, x: Any) -> None:
        # Keras weights each batch's loss by its size, so the epoch loss is a per-sample mean.
        rows = _batch_rows(x)
        self._loss_tracker.update_scalar(loss, rows)
        for tracker, part in zip(self._output_loss_trackers, self._last_loss_parts):
            tracker.update_scalar(part, rows)

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> LazyLogs:
        """Updates the compiled metrics with one batch; returns the logs (computed only when read).

        In an evaluation step (the model in inference mode) the run's observers see the batch too.
        """
        if y is not None:
            self._compile_metrics.update_state(self._flat_outputs(y), self._flat_outputs(y_pred), sample_weight)
            run = self.fit_run
            if run is not None and run.observers and not self.training:
                run.update_observers(y, y_pred)
        return LazyLogs(self.get_metrics_result)

    def train_step(self, data: Any) -> Any:
        """One optimization step on one batch: forward, loss, gradients, `optimizer.apply`, metrics."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        run = self.fit_run
        variables = self.trainable_weights if run is None or run.variables is None else run.variables
        compiled = self._compiled_gradients(variables) if self._compile_built and self.jit_compile is True else None
        result = None if compiled is None else compiled(variables, x, y, sample_weight)
        grads: Any = None
        if result is not None:
            grads, loss, y_pred, parts = result
        elif self._compile_built:
            y_pred, loss, parts = self._forward_and_loss(x, y, sample_weight)
        else:  # the first step resolves losses and metrics from its own forward pass (no extra dropout draw)
            y_pred = self(x, training=True)
            # That forward pass may have built lazily created layers: their weights train from this step on,
            # and the optimizer is built on all of them (not only those that existed before the call).
            variables = self.trainable_weights
            self._build_compile(y, y_pred)
            loss, parts = self._loss_and_parts(y, y_pred, sample_weight)
        self._last_loss_parts = parts
        if run is not None and run.nan_guard and not bool(torch.isfinite(loss.detach())):
            # The step is skipped, so the weights stay as they were before the bad batch.
            run.nonfinite_loss = float(loss.detach())
        elif variables:
            if grads is None:
                grads = torch.autograd.grad(loss, variables, allow_unused=True)
                if self.jit_compile is True:  # what this eager step found unused keeps a None gradient there too
                    self._unused_variables = (tuple(map(id, variables)), [i for i, g in enumerate(grads) if g is None])
            self.optimizer.apply(list(grads), variables)
        self._track_loss(loss, x)
        with torch.no_grad():
            return self.compute_metrics(x, y, y_pred.detach() if isinstance(y_pred, torch.Tensor) else y_pred,
                                        sample_weight)

    def _forward_and_loss(self, x: Any, y: Any, sample_weight: Any) -> tuple[Any, torch.Tensor, list]:
        y_pred = self(x, training=True)
        total, parts = self._loss_and_parts(y, y_pred, sample_weight)
        return y_pred, total, parts

    def _compiled_gradients(self, variables: list[torch.nn.Parameter]) -> CompiledGradients | None:
        """The jit_compile=True gradient step for these variables; None where this step must run eagerly:
        no eager step has yet found which of these variables are unused, or the model could not be traced."""
        ids = tuple(map(id, variables))
        seen = self._unused_variables
        if not variables or seen is None or seen[0] != ids:
            return None
        step = self._compiled_step
        if step is None or step.ids != ids:
            step = self._compiled_step = CompiledGradients(self, variables, seen[1])
        return None if step.failed else step

    def test_step(self, data: Any) -> Any:
        """One evaluation step: forward in inference mode, loss and metrics."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        if not self._compile_built:
            self._build_compile(y, y_pred)
        if (self._compile_loss is not None and y is not None) or (self._compile_loss is None and self.losses):
            self._track_loss(self.compute_loss(x, y, y_pred, sample_weight, training=False), x)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data: Any) -> Any:
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ------------------------------------------------------------------ metrics
    def _named_metrics(self) -> list[tuple[str, Any]]:
        """(log name, metric) of every tracked metric: the loss, per-output losses, then the compiled metrics."""
        named = [("loss", self._loss_tracker)] if self._compile_loss is not None or self._tracks_loss else []
        named += [(m.name, m) for m in self._output_loss_trackers]
        if self._compile_metrics is not None:
            named += self._compile_metrics.named_metrics
        return named

    @property
    def metrics(self) -> list[Any]:
        return [m for _, m in self._named_metrics()]

    @property
    def metrics_names(self) -> list[str]:
        return [name for name, _ in self._named_metrics()]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self) -> dict[str, torch.Tensor]:
        """Current value of every metric (tensors on the device; no host copy)."""
        return {name: m.result() for name, m in self._named_metrics()}
