"""`Adagrad`: per-coordinate learning rates from the sum of squared gradients (Duchi et al.)."""

from __future__ import annotations

import numpy as np

from svertka.optim.optimizer import Optimizer, _check_nonneg, _increment_step, _state_array

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, as ``torch.optim.Adagrad`` (single-tensor arithmetic, same order).

    For each parameter with gradient :math:`g` (negated if ``maximize``), at step :math:`t`::

        g = g + weight_decay * p                 (if weight_decay != 0)
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g;  p = p - clr * g / (sqrt(s) + eps)

    Args:
        params (iterable): Tensors to optimize, or dicts defining parameter groups.
        lr (float): learning rate. Default: ``1e-2``.
        lr_decay (float): learning-rate decay. Default: ``0``.
        weight_decay (float): L2 penalty. Default: ``0``.
        initial_accumulator_value (float): initial value of the sum ``s``. Default: ``0``.
        eps (float): added to the denominator for numerical stability. Default: ``1e-10``.
        maximize (bool): maximize the objective instead of minimizing. Default: ``False``.

    State (per parameter, created at construction as in torch): ``'step'``, ``'sum'``.

    Examples::

        >>> import svertka
        >>> w = svertka.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = svertka.optim.Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.5000, -1.5000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        _check_nonneg("Adagrad", lr, "learning rate")
        _check_nonneg("Adagrad", lr_decay, "lr_decay value")
        _check_nonneg("Adagrad", weight_decay, "weight_decay value")
        _check_nonneg("Adagrad", initial_accumulator_value, "initial_accumulator_value value")
        _check_nonneg("Adagrad", eps, "epsilon value")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value,
                    "maximize": maximize}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = _state_array(0.0)
        state["sum"] = _state_array(group["initial_accumulator_value"], p._data)

    def _update(self, p, grad, group):
        x = p._data
        state = self.state[p]
        if len(state) == 0:  # a parameter of a group added after construction
            self._init_state(p, group)
        step = _increment_step(state)
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * x
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state_sum = state["sum"]._data
        state_sum += grad * grad
        std = np.sqrt(state_sum)
        std += group["eps"]
        x += -clr * (grad / std)
