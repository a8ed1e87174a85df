"""Trainer: what one training, evaluation or prediction step does (mixed into Model).

A step resolves the compiled losses and metrics from its first batch, runs forward and loss and takes
gradients (eagerly with autograd, or as one torch.compile'd graph with jit_compile=True), hands them to
`optimizer.apply`, the same update rule a GradientTape loop uses, and updates the metrics on the device.
"""
from __future__ import annotations

from typing import Any

import torch

from plait import metrics as metrics_mod
from plait.data.adapter import unpack_x_y_sample_weight
from plait.data.tree import leaves
from plait.training.compiled_step import CompiledGradients
from plait.training.logs import LazyLogs


class Trainer:
    """The step methods of `plait.Model`; override `train_step`/`test_step`/`predict_step` to customize."""

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
        if y is None:
            raise ValueError("The batch has no targets y, but the compiled loss needs them.")
        total, parts = self._loss_and_parts(y, y_pred, sample_weight)
        self._last_loss_parts = parts
        return total

    def _loss_and_parts(self, y: Any, y_pred: Any, sample_weight: Any,
                        penalties: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, list]:
        """Compiled losses (weighted, summed) plus the weights' regularization penalties (default
        `self.losses`), as Keras adds them."""
        if self._compile_loss is None:
            raise ValueError("No loss to optimize: pass loss=... to compile(), or override compute_loss/train_step.")
        total, parts = self._compile_loss(self._flat_outputs(y), self._flat_outputs(y_pred), sample_weight)
        if penalties is None:
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
        variables = self._train_variables()
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
        if self._nan_guard and not bool(torch.isfinite(loss.detach())):
            # The step is skipped, so the weights stay as they were before the bad batch.
            self._nonfinite_loss = float(loss.detach())
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
