"""Normalisation with torch.nn.functional's names: ``batch_norm``, ``instance_norm``,
``group_norm``, ``layer_norm``, ``rms_norm``, ``local_response_norm``, ``normalize``.

Batch, instance, group and layer norm differ only in which axes share a mean and a variance and
in the shape of the affine parameters; all four call the one fused op
``svertka.ops.norm.Normalize`` (closed-form backward). Running statistics (batch and instance
norm) are updated in place, outside the graph, with ``momentum`` and the unbiased variance, as
torch does; their version counters are bumped.
"""

from __future__ import annotations

import math

import numpy as np

from svertka._tensor_base import TensorBase
from svertka._validate import (
    _fmt,
    check_dim,
    check_float_tensor,
    check_real,
    check_tensor,
    error,
    is_int,
    type_error,
)
from svertka.ops import norm as N

__all__ = ["batch_norm", "instance_norm", "group_norm", "layer_norm", "rms_norm",
           "local_response_norm", "normalize"]


# ---------------------------------------------------------------------------- argument checks
def _check_input(fn, input, min_ndim, layout="(N, C, *)"):
    check_float_tensor(input, "input", fn)
    if input.ndim < min_ndim:
        raise error(fn, f"input must be at least {min_ndim}-D {layout}, got input of shape "
                        f"{tuple(input.shape)}")


def _check_param(fn, t, name, shape, what):
    """``t`` is None or a floating-point Tensor of exactly ``shape``."""
    if t is None:
        return None
    check_float_tensor(t, name, fn)
    if tuple(t.shape) != tuple(shape):
        raise error(fn, f"{name} must have shape {tuple(shape)} ({what}), got {name} of shape "
                        f"{tuple(t.shape)}")
    return t


def _check_channels(fn, input, **params):
    C = input._data.shape[1]
    for name, t in params.items():
        if t is not None and (not isinstance(t, TensorBase) or t._data.dtype.kind != "f"
                              or t._data.shape != (C,)):
            _check_param(fn, t, name, (C,),
                         f"one value per channel of input {tuple(input.shape)}")


def _check_running(fn, running_mean, running_var):
    if (running_mean is None) != (running_var is None):
        raise error(fn, f"running_mean and running_var must both be given or both be None, got "
                        f"running_mean={'None' if running_mean is None else 'a Tensor'}, "
                        f"running_var={'None' if running_var is None else 'a Tensor'}")


def _spatial(shape):
    return math.prod(shape[2:])


def _update_running(running_mean, running_var, mean, var_unbiased, momentum):
    """``r = (1 - momentum) r + momentum * batch_stat``, in place, in the running dtype."""
    for r, s in ((running_mean, mean), (running_var, var_unbiased)):
        d = r._data
        d *= 1.0 - momentum
        d += (momentum * s).astype(d.dtype, copy=False).reshape(d.shape)
        r._version[0] += 1


def _channel_norm(input, weight, bias, eps, stat_shape, axes, mean, var, batch_stats):
    x = input._data
    wshape = (x.shape[1],) + (1,) * (x.ndim - 2)
    return N.Normalize.apply(input, weight, bias, mean=mean, var=var, stat_shape=stat_shape,
                             axes=axes, wshape=wshape, eps=eps, batch_stats=batch_stats,
                             per_channel=axes == (0, 2))


# ---------------------------------------------------------------------------- batch norm
def _check_batch_norm(fn, input, running_mean, running_var, weight, bias, momentum, eps):
    """``batch_norm``'s argument checks; returns ``momentum`` and ``eps`` as floats."""
    _check_input(fn, input, 2)
    _check_running(fn, running_mean, running_var)
    _check_channels(fn, input, running_mean=running_mean, running_var=running_var,
                    weight=weight, bias=bias)
    return check_real(momentum, "momentum", fn), check_real(eps, "eps", fn, minimum=0.0)


def _batch_norm_eval_(input, running_mean, running_var, weight=None, bias=None, momentum=0.1,
                      eps=1e-5):
    """``batch_norm(input, running_mean, running_var, weight, bias, training=False, ...)``
    written into ``input``'s memory, for the inference path of ``nn.Sequential`` (no graph
    recorded; ``input`` is a layer's fresh output that nothing else holds): the same checks
    and the same values, without a new array. Returns ``input``, or ``None`` where this path
    does not apply (the caller then runs the module as usual)."""
    x = input._data
    if (running_mean is None or x.dtype not in (np.float32, np.float64) or x.size == 0
            or not x.flags.c_contiguous or not x.flags.writeable):
        return None
    _check_batch_norm("batch_norm", input, running_mean, running_var, weight, bias, momentum,
                      eps)
    if running_var is None:
        return None
    N.batch_norm_fixed_(x, running_mean._data, running_var._data,
                        None if weight is None else weight._data,
                        None if bias is None else bias._data, float(eps))
    input._version[0] += 1
    return input


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    r"""Batch normalisation: per channel, ``y = (x - mean) / sqrt(var + eps) * weight + bias``.

    In training the mean and the (biased) variance are those of the batch, over every axis but
    the channel axis, and ``running_mean`` / ``running_var`` (if given) are updated in place:
    ``r = (1 - momentum) * r + momentum * stat`` with the *unbiased* batch variance. In eval
    (``training=False``) the running statistics normalise, so the map is a fixed affine one.

    Args:
        input: ``(N, C)`` or ``(N, C, *)``.
        running_mean, running_var: ``(C,)`` tensors or None (only when training).
        weight, bias: ``(C,)`` tensors or None (scale 1, shift 0).
        training: use (and track) batch statistics. Default: False.
        momentum: the weight of the new batch statistic in the running average. Default: 0.1.
        eps: added to the variance for numerical stability. Default: 1e-5.

    Shape:
        Input ``(N, C, *)``; output ``(N, C, *)``, the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([[1.0, 2.0], [3.0, 6.0]])
        >>> rm, rv = svertka.zeros(2), svertka.ones(2)
        >>> F.batch_norm(x, rm, rv, training=True, eps=1e-5)
        tensor([[-1.0000, -1.0000],
                [ 1.0000,  1.0000]])
        >>> rm, rv
        (tensor([0.2000, 0.4000]), tensor([1.1000, 1.7000]))
    """
    fn = "batch_norm"
    momentum, eps = _check_batch_norm(fn, input, running_mean, running_var, weight, bias,
                                      momentum, eps)
    if training and not eps > 0:
        raise error(fn, f"eps must be positive in training (a constant channel would divide by "
                        f"zero), got eps={eps}")
    x = input._data
    n_per_channel = x.shape[0] * _spatial(x.shape)
    C = x.shape[1]
    stat_shape = (x.shape[0], C, _spatial(x.shape))            # (N, C, S)
    if training:
        if n_per_channel == 1:
            raise error(fn, f"expected more than 1 value per channel when training, got input "
                            f"size {tuple(x.shape)}")
        if n_per_channel == 0:  # an empty batch: nothing to normalise or track (torch)
            mean, var = np.zeros((1, C, 1), x.dtype), np.ones((1, C, 1), x.dtype)
            return _channel_norm(input, weight, bias, eps, stat_shape, (0, 2), mean, var, True)
        mean, var = N.moments(x.reshape(stat_shape), (0, 2))     # (1, C, 1)
        if running_mean is not None:
            _update_running(running_mean, running_var, mean,
                            var * (n_per_channel / (n_per_channel - 1)), momentum)
        return _channel_norm(input, weight, bias, eps, stat_shape, (0, 2), mean, var, True)
    if running_mean is None:
        raise error(fn, "running_mean and running_var must be given when training=False (eval "
                        "normalises with the running statistics), got running_mean=None")
    mean = running_mean._data.reshape(1, C, 1)
    var = running_var._data.reshape(1, C, 1)
    return _channel_norm(input, weight, bias, eps, stat_shape, (0, 2), mean, var, False)


# ---------------------------------------------------------------------------- instance norm
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    r"""Instance normalisation: each channel of each sample is normalised over its own spatial
    positions, then scaled and shifted per channel.

    With ``use_input_stats`` the per-instance statistics are used and the running statistics
    (if given) are updated with their average over the batch (unbiased variance), as torch
    does; otherwise the running statistics normalise.

    Args:
        input: ``(N, C, *)``, at least one spatial axis.
        running_mean, running_var: ``(C,)`` tensors or None.
        weight, bias: ``(C,)`` tensors or None.
        use_input_stats: normalise with each instance's statistics. Default: True.
        momentum: weight of the new statistic in the running average. Default: 0.1.
        eps: added to the variance for numerical stability. Default: 1e-5.

    Shape:
        Input ``(N, C, *)``; output ``(N, C, *)``, the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.instance_norm(svertka.tensor([[[1.0, 3.0], [0.0, 4.0]]]), eps=0.0)
        tensor([[[-1.,  1.],
                 [-1.,  1.]]])
    """
    fn = "instance_norm"
    _check_input(fn, input, 2)
    _check_running(fn, running_mean, running_var)
    _check_channels(fn, input, running_mean=running_mean, running_var=running_var,
                    weight=weight, bias=bias)
    momentum = check_real(momentum, "momentum", fn)
    eps = check_real(eps, "eps", fn, minimum=0.0)
    x = input._data
    S = _spatial(x.shape)
    stat_shape = (x.shape[0], x.shape[1], S)                  # (N, C, S)
    if use_input_stats:
        if S == 1:
            raise error(fn, f"expected more than 1 spatial element when training, got input "
                            f"size {tuple(x.shape)}")
        mean, var = N.moments(x.reshape(stat_shape), (2,))     # (N, C, 1)
        if running_mean is not None and x.shape[0] > 0:
            _update_running(running_mean, running_var, mean.mean(axis=0),
                            (var * (S / (S - 1))).mean(axis=0), momentum)
        return _channel_norm(input, weight, bias, eps, stat_shape, (2,), mean, var, True)
    if running_mean is None:
        raise error(fn, "running_mean and running_var must be given when use_input_stats=False, "
                        "got running_mean=None")
    C = x.shape[1]
    mean = running_mean._data.reshape(1, C, 1)
    var = running_var._data.reshape(1, C, 1)
    return _channel_norm(input, weight, bias, eps, stat_shape, (2,), mean, var, False)


# ---------------------------------------------------------------------------- group norm
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    r"""Group normalisation: the channels are split into ``num_groups`` groups; each group of
    each sample is normalised over its channels and spatial positions, then scaled and shifted
    per channel. ``num_groups=1`` normalises each sample as a whole, ``num_groups=C`` is
    instance norm.

    Args:
        input: ``(N, C, *)``.
        num_groups: the number of groups; must divide ``C``.
        weight, bias: ``(C,)`` tensors or None.
        eps: added to the variance for numerical stability. Default: 1e-5.

    Shape:
        Input ``(N, C, *)``; output ``(N, C, *)``, the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([[[1.0], [3.0], [10.0], [20.0]]])
        >>> F.group_norm(x, 2, eps=0.0).flatten()
        tensor([-1.,  1., -1.,  1.])
    """
    fn = "group_norm"
    _check_input(fn, input, 2)
    if not is_int(num_groups):
        raise type_error(fn, f"num_groups must be a positive int, got "
                             f"num_groups={_fmt(num_groups)}")
    C = input.shape[1]
    if num_groups <= 0 or C % num_groups:
        raise error(fn, f"num_groups must be a positive divisor of the number of channels "
                        f"(C={C} in input of shape {tuple(input.shape)}), got "
                        f"num_groups={num_groups}")
    _check_channels(fn, input, weight=weight, bias=bias)
    eps = check_real(eps, "eps", fn, minimum=0.0)
    x = input._data
    stat_shape = (x.shape[0], num_groups, (C // num_groups) * _spatial(x.shape))  # (N, G, M)
    mean, var = N.moments(x.reshape(stat_shape), (2,))          # (N, G, 1)
    return _channel_norm(input, weight, bias, eps, stat_shape, (2,), mean, var, True)


# ---------------------------------------------------------------------------- layer norm
def _normalized_shape(fn, input, normalized_shape):
    if is_int(normalized_shape):
        ns = (int(normalized_shape),)
    elif isinstance(normalized_shape, (tuple, list)) and all(is_int(d) for d in
                                                             normalized_shape):
        ns = tuple(int(d) for d in normalized_shape)
    else:
        raise type_error(fn, f"normalized_shape must be an int or a tuple of ints, got "
                             f"normalized_shape={_fmt(normalized_shape)}")
    shape = tuple(input.shape)
    if not ns:
        raise error(fn, "normalized_shape must have at least one dim, got normalized_shape=()")
    if len(ns) > len(shape) or (ns and shape[-len(ns):] != ns):
        raise error(fn, f"normalized_shape must equal the trailing dims of input of shape "
                        f"{shape}, got normalized_shape={ns}")
    return ns


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    r"""Layer normalisation: each sample is normalised over its trailing ``normalized_shape``
    dims, then scaled and shifted element-wise by ``weight`` / ``bias`` of that shape.

    Args:
        input: ``(*, *normalized_shape)``.
        normalized_shape: an int or a tuple of ints, the trailing dims to normalise over.
        weight, bias: tensors of shape ``normalized_shape`` or None.
        eps: added to the variance for numerical stability. Default: 1e-5.

    Shape:
        Input ``(*, *normalized_shape)``; output the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.layer_norm(svertka.tensor([[1.0, 3.0], [2.0, 8.0]]), 2, eps=0.0)
        tensor([[-1.,  1.],
                [-1.,  1.]])
    """
    fn = "layer_norm"
    check_tensor(input, "input", fn)
    ns = _normalized_shape(fn, input, normalized_shape)
    _check_input(fn, input, len(ns), "(*, *normalized_shape)")
    for name, t in (("weight", weight), ("bias", bias)):
        _check_param(fn, t, name, ns, "normalized_shape")
    eps = check_real(eps, "eps", fn, minimum=0.0)
    x = input._data
    D = math.prod(ns)
    stat_shape = (x.size // D if D else math.prod(x.shape[:x.ndim - len(ns)]), D)  # (M, D)
    mean, var = N.moments(x.reshape(stat_shape), (1,))          # (M, 1)
    return N.Normalize.apply(input, weight, bias, mean=mean, var=var, stat_shape=stat_shape,
                             axes=(1,), wshape=ns, eps=eps, batch_stats=True)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    r"""Root-mean-square normalisation over the trailing ``normalized_shape`` dims:
    ``y = x / sqrt(mean(x^2) + eps) * weight``.

    Args:
        input: ``(*, *normalized_shape)``.
        normalized_shape: an int or a tuple of ints, the trailing dims to normalise over.
        weight: a tensor of shape ``normalized_shape`` or None.
        eps: added to the mean square; None means the machine epsilon of input's dtype.

    Shape:
        Input ``(*, *normalized_shape)``; output the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.rms_norm(svertka.tensor([[3.0, -3.0], [1.0, 1.0]]), (2,), eps=0.0)
        tensor([[ 1., -1.],
                [ 1.,  1.]])
    """
    fn = "rms_norm"
    check_tensor(input, "input", fn)
    ns = _normalized_shape(fn, input, normalized_shape)
    _check_input(fn, input, len(ns), "(*, *normalized_shape)")
    _check_param(fn, weight, "weight", ns, "normalized_shape")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    eps = check_real(eps, "eps", fn, minimum=0.0)
    axes = tuple(range(input.ndim - len(ns), input.ndim))
    return N.RMSNorm.apply(input, weight, axes=axes, eps=eps)


# ---------------------------------------------------------------------------- LRN, normalize
def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    r"""Local response normalisation across channels (AlexNet's), torch's definition:

    .. math::
        y_c = x_c \Big/ \Big(k + \frac{\alpha}{n} \sum_{c'=c-\lfloor n/2 \rfloor}
              ^{c+\lfloor (n-1)/2 \rfloor} x_{c'}^2\Big)^{\beta}

    with ``n = size`` and zero padding beyond the first and the last channel. The work does not
    depend on ``size``: window offsets past the channels only add zeros and are skipped (the
    divisor stays ``size``, as in torch), so ``size=2**40`` costs what ``size=2 C`` does.

    Args:
        input: ``(N, C, *)``, at least 3-D.
        size: the number of neighbouring channels in the window.
        alpha: multiplicative factor. Default: 1e-4.
        beta: exponent. Default: 0.75.
        k: additive factor. Default: 1.

    Shape:
        Input ``(N, C, *)``; output the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([[[1.0], [1.0], [1.0]]])
        >>> F.local_response_norm(x, 2, alpha=2.0, beta=1.0, k=1.0).flatten()
        tensor([0.5000, 0.3333, 0.3333])
    """
    fn = "local_response_norm"
    _check_input(fn, input, 3)
    if not is_int(size):
        raise type_error(fn, f"size must be a positive int, got size={_fmt(size)}")
    if size <= 0:
        raise error(fn, f"size must be a positive int, got size={size}")
    alpha = check_real(alpha, "alpha", fn)
    beta = check_real(beta, "beta", fn)
    k = check_real(k, "k", fn)
    if input.numel() == 0:
        return input
    return N.LocalResponseNorm.apply(input, size=int(size), alpha=alpha, beta=beta, k=k)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    r"""Divide by the ``p``-norm along ``dim``: ``y = x / max(||x||_p, eps)``.

    Args:
        input: a floating-point tensor of any shape.
        p: the exponent of the norm: a positive number, ``inf`` or 0. Default: 2.
        dim: the dimension to reduce. Default: 1.
        eps: the smallest denominator (avoids dividing by zero). Default: 1e-12.

    Shape:
        Input ``(*)``; output the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.normalize(svertka.tensor([[3.0, 4.0], [0.0, 0.0]]))
        tensor([[0.6000, 0.8000],
                [0.0000, 0.0000]])
    """
    fn = "normalize"
    check_float_tensor(input, "input", fn)
    p = check_real(p, "p", fn)
    if not p >= 0:
        raise error(fn, f"p must be a positive number, inf or 0, got p={p!r}")
    eps = check_real(eps, "eps", fn, minimum=0.0)
    axis = check_dim(dim, input.ndim, fn)
    if input.ndim == 0:
        raise error(fn, f"input must be at least 1-D, got input of shape {tuple(input.shape)}")
    return N.LpNormalize.apply(input, p=p, axis=axis, eps=eps)
