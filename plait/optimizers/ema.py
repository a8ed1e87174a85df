"""The optimizers' exponential moving average of the variables (`use_ema`), as Keras keeps it."""
from __future__ import annotations

from typing import Any, Sequence

import torch


class MovingAverage:
    """Mixin of `Optimizer`: the 'average' slot follows the variables after every update.

    The first update copies the variables; later ones move the average by `1 - ema_momentum` towards them.
    Every `ema_overwrite_frequency` updates, and at `finalize_variable_values`, the variables take its value.
    """

    _slots: dict[str, list[Any]]
    _variables: list[torch.Tensor]
    built: bool
    use_ema: bool
    ema_momentum: float
    ema_overwrite_frequency: int | None
    iterations: Any

    def _update_moving_average(self) -> None:
        averages, iterations = self._slots["average"], int(self.iterations)
        if iterations == 0:
            torch._foreach_copy_(averages, self._variables)
        else:
            torch._foreach_lerp_(averages, self._variables, 1.0 - self.ema_momentum)
        if self.ema_overwrite_frequency and (iterations + 1) % self.ema_overwrite_frequency == 0:
            torch._foreach_copy_(self._variables, averages)

    def finalize_variable_values(self, var_list: Sequence[torch.Tensor]) -> None:
        """With `use_ema`, writes the moving averages into `var_list` (fit does this after the last epoch)."""
        if not self.use_ema or not self.built:
            return
        var_list = list(var_list)
        if len(var_list) != len(self._variables):
            raise ValueError(f"finalize_variable_values received {len(var_list)} variables but the optimizer tracks "
                             f"{len(self._variables)}; pass the list it was built with.")
        with torch.no_grad():
            torch._foreach_copy_(var_list, self._slots["average"])
