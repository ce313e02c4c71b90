"""`SGD`: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

import numpy as np

from svertka._validate import error
from svertka.optim.optimizer import Optimizer, _check_nonneg
from svertka.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    For each parameter with gradient :math:`g` (negated if ``maximize``)::

        g = g + weight_decay * p                       (if weight_decay != 0)
        b = g  (first step)  or  b = momentum * b + (1 - dampening) * g
        g = g + momentum * b  (nesterov)  or  g = b    (if momentum != 0)
        p = p - lr * g

    Args:
        params (iterable): Tensors to optimize, or dicts defining parameter groups.
        lr (float): learning rate. Default: ``1e-3``.
        momentum (float): momentum factor. Default: ``0``.
        dampening (float): dampening of the momentum. Default: ``0``.
        weight_decay (float): L2 penalty. Default: ``0``.
        nesterov (bool): Nesterov momentum (needs ``momentum > 0`` and zero dampening).
            Default: ``False``.
        maximize (bool): maximize the objective instead of minimizing. Default: ``False``.

    State (per parameter, when ``momentum != 0``): ``'momentum_buffer'``.

    Examples::

        >>> import svertka
        >>> w = svertka.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = svertka.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        _check_nonneg("SGD", lr, "learning rate")
        _check_nonneg("SGD", momentum, "momentum value")
        _check_nonneg("SGD", weight_decay, "weight_decay value")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise error("SGD", f"Nesterov momentum requires a momentum and zero dampening, "
                               f"got momentum={momentum}, dampening={dampening}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def _scratch(self, like, slot=0):
        """A reusable buffer shaped like ``like`` (a view of one flat array per dtype and slot,
        grown to the largest parameter): the update makes no temporary arrays."""
        bufs = self.__dict__.setdefault("_scratch_bufs", {})
        key = (like.dtype, slot)
        buf = bufs.get(key)
        if buf is None or buf.size < like.size:
            buf = bufs[key] = np.empty(like.size, dtype=like.dtype)
        return buf[:like.size].reshape(like.shape)

    def _update(self, p, grad, group):
        x = p._data
        momentum = group["momentum"]
        weight_decay = group["weight_decay"]
        lr = group["lr"]
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            g = np.multiply(x, weight_decay, out=self._scratch(x, 1))
            g += grad                                       # grad + weight_decay * p
            grad = g
        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                state["momentum_buffer"] = Tensor._make(grad.copy())
                b = state["momentum_buffer"]._data
            else:
                b = buf._data
                b *= momentum
                dampening = group["dampening"]
                if dampening == 0:
                    b += grad
                else:
                    b += np.multiply(grad, 1 - dampening, out=self._scratch(x))
            if group["nesterov"]:
                g = np.multiply(b, momentum, out=self._scratch(x))
                g += grad
                grad = g
            else:
                grad = b
        if grad.dtype != x.dtype or grad.shape != x.shape:
            x += -lr * grad
            return
        step = np.multiply(grad, -lr, out=self._scratch(x))      # may be grad's own buffer
        x += step
