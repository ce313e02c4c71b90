"""`RMSprop`: gradients divided by a running root mean square (Hinton's lecture 6e)."""

from __future__ import annotations

import numpy as np

from svertka.optim.optimizer import (
    Optimizer,
    _check_nonneg,
    _increment_step,
    _lerp_,
    _state_array,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop, as ``torch.optim.RMSprop`` (single-tensor arithmetic, same order).

    For each parameter with gradient :math:`g` (negated if ``maximize``)::

        g = g + weight_decay * p                           (if weight_decay != 0)
        v = alpha * v + (1 - alpha) * g * g
        a = sqrt(v - m * m) + eps, m = lerp(m, g, 1 - alpha)   (centered)
        a = sqrt(v) + eps                                        (otherwise)
        b = momentum * b + g / a;  p = p - lr * b              (momentum > 0)
        p = p - lr * g / a                                       (otherwise)

    Args:
        params (iterable): Tensors to optimize, or dicts defining parameter groups.
        lr (float): learning rate. Default: ``1e-2``.
        alpha (float): smoothing constant. Default: ``0.99``.
        eps (float): added to the denominator for numerical stability. Default: ``1e-8``.
        weight_decay (float): L2 penalty. Default: ``0``.
        momentum (float): momentum factor. Default: ``0``.
        centered (bool): normalize by the estimated variance of the gradient instead of its
            second moment. Default: ``False``.
        maximize (bool): maximize the objective instead of minimizing. Default: ``False``.

    State (per parameter): ``'step'``, ``'square_avg'`` (and ``'momentum_buffer'``,
    ``'grad_avg'`` when used).

    Examples::

        >>> import svertka
        >>> w = svertka.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = svertka.optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        _check_nonneg("RMSprop", lr, "learning rate")
        _check_nonneg("RMSprop", eps, "epsilon value")
        _check_nonneg("RMSprop", momentum, "momentum value")
        _check_nonneg("RMSprop", weight_decay, "weight_decay value")
        _check_nonneg("RMSprop", alpha, "alpha value")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _update(self, p, grad, group):
        x = p._data
        alpha, momentum = group["alpha"], group["momentum"]
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _state_array(0.0)
            state["square_avg"] = _state_array(0, x)
            if momentum > 0:
                state["momentum_buffer"] = _state_array(0, x)
            if group["centered"]:
                state["grad_avg"] = _state_array(0, x)
        if group["maximize"]:
            grad = -grad
        _increment_step(state)
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * x
        square_avg = state["square_avg"]._data
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            if "grad_avg" not in state:
                state["grad_avg"] = _state_array(0, x)
            grad_avg = state["grad_avg"]._data
            _lerp_(grad_avg, grad, 1 - alpha)
            avg = np.sqrt(square_avg + -1 * grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += group["eps"]
        if momentum > 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = _state_array(0, x)
            buf = state["momentum_buffer"]._data
            buf *= momentum
            buf += grad / avg
            x += -group["lr"] * buf
        else:
            x += -group["lr"] * (grad / avg)
