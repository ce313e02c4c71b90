"""`Adam`: adaptive moment estimation (with AMSGrad and decoupled weight decay as options)."""

from __future__ import annotations

import numpy as np

from svertka._validate import error, type_error
from svertka.optim.optimizer import (
    Optimizer,
    _check_nonneg,
    _increment_step,
    _lerp_,
    _state_array,
)

__all__ = ["Adam"]


def _check_betas(fn, betas):
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise type_error(fn, f"betas must be a tuple of 2 floats, got betas={betas!r}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise error(fn, f"invalid beta parameter at index {i}: {beta}")


def _lerp_into(a, b, weight, diff):
    """``_lerp_`` (torch's ``lerp_``, same arithmetic) with ``diff`` as its scratch buffer."""
    np.subtract(b, a, out=diff)
    if abs(weight) < 0.5:
        diff *= weight
        a += diff
    else:
        diff *= 1 - weight
        np.subtract(b, diff, out=a)


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam`` (single-tensor arithmetic, same order).

    For each parameter with gradient :math:`g` (negated if ``maximize``), at step :math:`t`::

        g = g + weight_decay * p            (or p = p * (1 - lr * weight_decay) if decoupled)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                                             (amsgrad)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v or v_max) / sqrt(1 - beta2^t) + eps)

    Args:
        params (iterable): Tensors to optimize, or dicts defining parameter groups.
        lr (float): learning rate. Default: ``1e-3``.
        betas (Tuple[float, float]): decay rates of the gradient's running average and of its
            square's. Default: ``(0.9, 0.999)``.
        eps (float): added to the denominator for numerical stability. Default: ``1e-8``.
        weight_decay (float): L2 penalty. Default: ``0``.
        amsgrad (bool): use the AMSGrad variant (maximum of past squared averages).
            Default: ``False``.
        maximize (bool): maximize the objective instead of minimizing. Default: ``False``.
        decoupled_weight_decay (bool): decay the weights directly, as AdamW. Default:
            ``False``.

    State (per parameter): ``'step'``, ``'exp_avg'``, ``'exp_avg_sq'`` (and
    ``'max_exp_avg_sq'`` with amsgrad).

    Examples::

        >>> import svertka
        >>> w = svertka.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = svertka.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        fn = type(self).__name__
        _check_nonneg(fn, lr, "learning rate")
        _check_nonneg(fn, eps, "epsilon value")
        _check_betas(fn, betas)
        _check_nonneg(fn, weight_decay, "weight_decay value")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _scratch(self, like):
        """A reusable buffer shaped like ``like`` (one flat array per dtype, grown to the
        largest parameter), so the update makes no temporary arrays."""
        bufs = self.__dict__.setdefault("_scratch_bufs", {})
        buf = bufs.get(like.dtype)
        if buf is None or buf.size < like.size:
            buf = bufs[like.dtype] = np.empty(like.size, dtype=like.dtype)
        return buf[:like.size].reshape(like.shape)

    def _update(self, p, grad, group):
        x = p._data
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _state_array(0.0)
            state["exp_avg"] = _state_array(0, x)
            state["exp_avg_sq"] = _state_array(0, x)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = _state_array(0, x)
        exp_avg = state["exp_avg"]._data
        exp_avg_sq = state["exp_avg_sq"]._data
        if group["maximize"]:
            grad = -grad
        step = _increment_step(state)
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                x *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * x
        tmp = self._scratch(x)
        if exp_avg.shape == grad.shape and exp_avg.dtype == grad.dtype:
            _lerp_into(exp_avg, grad, 1 - beta1, tmp)
        else:
            _lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        np.multiply(grad, 1 - beta2, out=tmp)
        tmp *= grad
        exp_avg_sq += tmp
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = _state_array(0, x)
            max_exp_avg_sq = state["max_exp_avg_sq"]._data
            np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            denom = np.sqrt(max_exp_avg_sq, out=tmp)
        else:
            denom = np.sqrt(exp_avg_sq, out=tmp)
        denom /= bias_correction2_sqrt
        denom += eps
        update = np.divide(exp_avg, denom, out=denom)
        update *= -step_size
        x += update  # p + (-step_size) * (exp_avg / denom), torch's addcdiv_
