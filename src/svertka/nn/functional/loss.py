"""Loss functions with torch.nn.functional's names, signatures and defaults.

Each function checks its arguments (errors name the function and the argument), then applies
one fused op of ``svertka.ops.loss``. ``reduction`` is ``'mean'`` (default), ``'sum'`` or
``'none'``; torch's deprecated ``size_average`` and ``reduce`` keep their positions in the
signatures and, when given, are mapped to a reduction with a warning, as torch does.

Differences from torch: errors are ``ValueError``/``TypeError`` in svertka's format (torch
raises ``RuntimeError`` or ``IndexError`` for some); float targets and weights must have the
input's dtype (no type promotion).
"""

from __future__ import annotations

import warnings

import numpy as np

from svertka import _validate as V
from svertka._validate import (
    _fmt,
    check_choice,
    check_float_tensor,
    check_probability,
    check_real,
    check_tensor,
    error,
)
from svertka.ops import loss as L

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]

_REDUCTIONS = ("mean", "sum", "none")


# ----------------------------------------------------------------------------- helpers

def _reduction(reduction, size_average, reduce, fn, choices=_REDUCTIONS):
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(f"{fn}: size_average and reduce are deprecated, use "
                      f"reduction='{reduction}' instead", UserWarning, stacklevel=3)
    return check_choice(reduction, choices, "reduction", fn)


def _broadcast_target(input, target, fn):
    """Torch broadcasts a differently shaped target with a warning; so does svertka."""
    if target.shape == input.shape:
        return
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise error(fn, f"target of shape {tuple(target.shape)} does not broadcast with input "
                        f"of shape {tuple(input.shape)}") from None
    warnings.warn(f"{fn}: using a target size ({tuple(target.shape)}) that is different to the "
                  f"input size ({tuple(input.shape)}); it is broadcast, which is likely wrong",
                  UserWarning, stacklevel=3)


def _same_shape_target(input, target, fn):
    if target.shape != input.shape:
        raise error(fn, f"target has shape {tuple(target.shape)}, expected the input's shape "
                        f"{tuple(input.shape)}")


def _elementwise_weight(weight, input, fn, name="weight", exact=False):
    """A weight of the input's shape (``exact``) or broadcastable to it."""
    if weight is None:
        return None
    check_float_tensor(weight, name, fn, like=input)
    if exact:
        ok = weight.shape == input.shape
        want = f"the input's shape {tuple(input.shape)}"
    else:
        try:
            ok = np.broadcast_shapes(weight.shape, input.shape) == tuple(input.shape)
        except ValueError:
            ok = False
        want = f"a shape that broadcasts to the input's {tuple(input.shape)}"
    if not ok:
        raise error(fn, f"{name} must have {want}, got {name} of shape {tuple(weight.shape)}")
    return weight


def _pointwise(fn, kind, input, target, reduction, weight=None, mean_by="count", **params):
    check_float_tensor(input, "input", fn)
    check_float_tensor(target, "target", fn, like=input)
    return L.PointwiseLoss.apply(input, target, weight, kind=kind, reduction=reduction,
                                 mean_by=mean_by, params=params)


def _class_input(input, fn):
    check_float_tensor(input, "input", fn)
    shape = input._data.shape
    if len(shape) == 0:
        raise error(fn, "input must be (C,), (N, C) or (N, C, d1, ...), got a 0-D input")
    C = shape[0] if len(shape) == 1 else shape[1]
    if C == 0:
        raise error(fn, f"input has no classes (C=0), got input of shape {shape}")
    return C


def _class_weight(weight, C, input, fn):
    if weight is None:
        return None
    check_float_tensor(weight, "weight", fn, like=input)
    if tuple(weight.shape) != (C,):
        raise error(fn, f"weight must be a 1-D tensor of C={C} class weights, got weight of "
                        f"shape {tuple(weight.shape)}")
    return weight


def _index_target(input, target, C, ignore_index, fn):
    """Check class-index targets: shape ``(N, d1, ...)`` (or ``()``), integer, in [0, C)."""
    shape = input._data.shape
    expected = () if len(shape) == 1 else (shape[0],) + shape[2:]
    if target._data.shape != expected:
        raise error(fn, f"target has shape {target._data.shape}, expected {expected} for "
                        f"input of shape {shape}")
    dt = target._data.dtype
    if dt.kind not in "iu":
        raise V.type_error(fn, f"target must be an integer tensor of class indices, got target "
                             f"of dtype {dt}")
    t = target._data
    if t.size == 0 or (0 <= t.min() and t.max() < C):   # the common case: two reductions
        return
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bad.any():
        raise error(fn, f"target classes must be in [0, {C}) or ignore_index={ignore_index}, "
                        f"got class {int(t[bad].flat[0])} for C={C}")


def _ignore_index(ignore_index, fn):
    return V.check_int(ignore_index, "ignore_index", fn)


# ----------------------------------------------------------------------------- classification

def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy between the logits ``input`` and ``target``: ``log_softmax`` over the
    class dimension and the negative log-likelihood, fused into one op with the stable
    gradient ``softmax(input) - target``.

    Args:
        input: unnormalized logits ``(N, C)``, ``(N, C, d1, ..., dK)`` or unbatched ``(C,)``.
        target: class indices ``(N,)``, ``(N, d1, ..., dK)`` or ``()`` (an integer tensor with
            values in ``[0, C)`` or ``ignore_index``), or class probabilities of the input's
            shape (a floating-point tensor).
        weight: a rescaling weight for each class, ``(C,)``, the input's dtype; differentiated
            only with class-probability targets (as torch). Default: ``None``.
        size_average, reduce: deprecated, use ``reduction``.
        ignore_index: a target value that is ignored and does not count in the mean (class
            indices only). Default: -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. With class indices, ``'mean'`` divides
            by the summed weight of the non-ignored targets; with probabilities, by the number
            of samples ``N * d1 * ... * dK``. Default: ``'mean'``.
        label_smoothing: in ``[0, 1]``; the target becomes ``(1 - eps) target + eps / C``
            (for class indices: over the non-ignored samples, weighted as torch). Default: 0.0.

    Shape:
        Output: a scalar, or with ``reduction='none'`` the shape ``(N, d1, ..., dK)`` (``()``
        for an unbatched input).

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> round(F.cross_entropy(svertka.zeros(4, 10), svertka.tensor([1, 2, 3, 4])).item(),
        ...       4)  # uniform logits: log(C)
        2.3026
        >>> F.cross_entropy(svertka.tensor([[2.0, 0.0], [0.0, 0.0]]), svertka.tensor([0, -100]),
        ...                 reduction="none")
        tensor([0.1269, 0.0000])
    """
    fn = "cross_entropy"
    reduction = _reduction(reduction, size_average, reduce, fn)
    C = _class_input(input, fn)
    check_tensor(target, "target", fn)
    ignore_index = _ignore_index(ignore_index, fn)
    eps = check_probability(label_smoothing, "label_smoothing", fn)
    probs = target._data.shape == input._data.shape
    if probs:
        check_float_tensor(target, "target", fn, like=input,
                           context=f"a target of the input's shape {tuple(input.shape)} holds "
                                   f"class probabilities")
        if ignore_index >= 0:
            raise error(fn, f"ignore_index is not supported for class-probability targets, got "
                            f"ignore_index={ignore_index}")
    else:
        _index_target(input, target, C, ignore_index, fn)
    weight = _class_weight(weight, C, input, fn)
    if weight is not None and not probs:
        weight = weight._data  # torch does not differentiate the weight of class indices
    return L.CrossEntropy.apply(input, target, weight, probs=probs, ignore_index=ignore_index,
                                reduction=reduction, label_smoothing=eps)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``:
    ``-weight[t] * input[n, t]`` per sample.

    Args:
        input: log-probabilities ``(N, C)``, ``(N, C, d1, ..., dK)`` or ``(C,)``.
        target: class indices ``(N,)``, ``(N, d1, ..., dK)`` or ``()``, integers in ``[0, C)``
            or ``ignore_index``.
        weight: a rescaling weight for each class, ``(C,)`` (not differentiated, as torch).
        size_average, reduce: deprecated, use ``reduction``.
        ignore_index: a target value that is ignored. Default: -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; ``'mean'`` divides by the summed
            weight of the non-ignored targets. Default: ``'mean'``.

    Shape:
        Output: a scalar, or the target's shape with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([[-1.0, -2.0], [-3.0, -4.0]])
        >>> F.nll_loss(x, svertka.tensor([1, 0]))
        tensor(2.5000)
        >>> F.nll_loss(x, svertka.tensor([1, 0]), weight=svertka.tensor([1.0, 3.0]))
        tensor(2.2500)
    """
    fn = "nll_loss"
    reduction = _reduction(reduction, size_average, reduce, fn)
    C = _class_input(input, fn)
    check_tensor(target, "target", fn)
    ignore_index = _ignore_index(ignore_index, fn)
    _index_target(input, target, C, ignore_index, fn)
    weight = _class_weight(weight, C, input, fn)
    return L.NllLoss.apply(input, target, None if weight is None else weight._data,
                           ignore_index=ignore_index, reduction=reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """Binary cross-entropy of probabilities: ``-w (t log x + (1 - t) log(1 - x))``, with each
    log clamped to ``>= -100`` as torch.

    Args:
        input: probabilities in ``[0, 1]``, any shape.
        target: the input's shape and dtype (values usually in ``[0, 1]``).
        weight: broadcastable to the input's shape (not differentiated, as torch).
        size_average, reduce: deprecated, use ``reduction``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape:
        Output: a scalar, or the input's shape with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.binary_cross_entropy(svertka.tensor([0.5, 1.0]), svertka.tensor([1.0, 0.0]),
        ...                        reduction="none")
        tensor([  0.6931, 100.0000])
    """
    fn = "binary_cross_entropy"
    reduction = _reduction(reduction, size_average, reduce, fn)
    check_float_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    _same_shape_target(input, target, fn)
    x = input._data
    if x.size and not ((x >= 0) & (x <= 1)).all():
        raise error(fn, f"input must hold probabilities in [0, 1], got values in "
                        f"[{x.min():g}, {x.max():g}]")
    t = target._data
    if t.size and not ((t >= 0) & (t <= 1)).all():           # NaN too, as torch
        raise error(fn, f"target must hold values in [0, 1], got values in "
                        f"[{np.nanmin(t) if not np.isnan(t).all() else np.nan:g}, "
                        f"{np.nanmax(t) if not np.isnan(t).all() else np.nan:g}]"
                        f"{' and NaN' if np.isnan(t).any() else ''}")
    weight = _elementwise_weight(weight, input, fn)
    return _pointwise(fn, "bce", input, target, reduction,
                      None if weight is None else weight._data)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy of logits, ``-w (p t log s(x) + (1 - t) log(1 - s(x)))`` with
    ``s`` the sigmoid, computed stably as ``(1 - t) x + (1 + (p - 1) t) softplus(-x)``.

    Args:
        input: logits, any shape.
        target: the input's shape and dtype; differentiable.
        weight: broadcastable to the input's shape (not differentiated, as torch).
        size_average, reduce: deprecated, use ``reduction``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        pos_weight: the weight ``p`` of positive examples, broadcast along the input's last
            dimension, e.g. ``(C,)`` for an input ``(N, C)`` (not differentiated, as torch).

    Shape:
        Output: a scalar, or the input's shape with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.binary_cross_entropy_with_logits(svertka.tensor([0.0, 10.0]),
        ...                                    svertka.tensor([1.0, 1.0]), reduction="none")
        tensor([6.9315e-01, 4.5399e-05])
    """
    fn = "binary_cross_entropy_with_logits"
    reduction = _reduction(reduction, size_average, reduce, fn)
    check_float_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    _same_shape_target(input, target, fn)
    weight = _elementwise_weight(weight, input, fn)
    pos_weight = _elementwise_weight(pos_weight, input, fn, "pos_weight")
    params = {} if pos_weight is None else {"pos_weight": pos_weight._data}
    return _pointwise(fn, "bce_logits", input, target, reduction,
                      None if weight is None else weight._data, **params)


# ----------------------------------------------------------------------------- regression

def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``w (x - t)^2``.

    Args:
        input: any shape.
        target: the input's shape (another shape is broadcast, with a warning, as torch);
            differentiable.
        size_average, reduce: deprecated, use ``reduction``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        weight: the input's shape; the weighted mean divides by ``weight.sum()``, as torch.

    Shape:
        Output: a scalar, or the broadcast shape with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.mse_loss(svertka.tensor([1.0, 2.0]), svertka.tensor([0.0, 4.0]))
        tensor(2.5000)
    """
    fn = "mse_loss"
    reduction = _reduction(reduction, size_average, reduce, fn)
    check_float_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    _broadcast_target(input, target, fn)
    _elementwise_weight(weight, input, fn, exact=True)
    return _pointwise(fn, "mse", input, target, reduction, weight, mean_by="weight")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error ``w |x - t|`` (gradient ``sign(x - t)``, 0 at 0).

    Args:
        input: any shape.
        target: the input's shape (another shape is broadcast, with a warning, as torch).
        size_average, reduce: deprecated, use ``reduction``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        weight: the input's shape; the weighted mean divides by ``weight.sum()``, as torch.

    Shape:
        Output: a scalar, or the broadcast shape with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.l1_loss(svertka.tensor([1.0, 2.0]), svertka.tensor([0.0, 4.0]))
        tensor(1.5000)
    """
    fn = "l1_loss"
    reduction = _reduction(reduction, size_average, reduce, fn)
    check_float_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    _broadcast_target(input, target, fn)
    _elementwise_weight(weight, input, fn, exact=True)
    return _pointwise(fn, "l1", input, target, reduction, weight, mean_by="weight")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Smooth L1: ``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``
    (``d = x - t``; ``beta = 0`` is the L1 loss).

    Args:
        input: any shape.
        target: the input's shape (another shape is broadcast, with a warning, as torch).
        size_average, reduce: deprecated, use ``reduction``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        beta: the non-negative threshold between the two branches. Default: 1.0.

    Shape:
        Output: a scalar, or the broadcast shape with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.smooth_l1_loss(svertka.tensor([0.5, 3.0]), svertka.zeros(2), reduction="none")
        tensor([0.1250, 2.5000])
    """
    fn = "smooth_l1_loss"
    reduction = _reduction(reduction, size_average, reduce, fn)
    beta = check_real(beta, "beta", fn)
    if not beta >= 0:
        raise error(fn, f"beta must be non-negative, got beta={beta}")
    check_float_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    _broadcast_target(input, target, fn)
    return _pointwise(fn, "smooth_l1", input, target, reduction, beta=beta)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Huber loss: ``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``.

    Args:
        input: any shape.
        target: the input's shape (another shape is broadcast, with a warning, as torch).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        delta: the positive threshold between the two branches. Default: 1.0.
        weight: the input's shape; the weighted mean divides by the number of elements, as
            torch.

    Shape:
        Output: a scalar, or the broadcast shape with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.huber_loss(svertka.tensor([0.5, 3.0]), svertka.zeros(2), reduction="none",
        ...              delta=2.0)
        tensor([0.1250, 4.0000])
    """
    fn = "huber_loss"
    reduction = _reduction(reduction, None, None, fn)
    delta = check_real(delta, "delta", fn)
    if not delta > 0:
        raise error(fn, f"delta must be positive, got delta={delta}")
    check_float_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    _broadcast_target(input, target, fn)
    _elementwise_weight(weight, input, fn, exact=True)
    return _pointwise(fn, "huber", input, target, reduction, weight, delta=delta)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence ``t (log t - x)`` pointwise, with ``input`` holding
    log-probabilities (and ``target`` too when ``log_target``).

    Args:
        input: log-probabilities, any shape.
        target: probabilities (or log-probabilities), broadcastable with the input;
            differentiable.
        size_average, reduce: deprecated, use ``reduction``.
        reduction: ``'none'`` | ``'batchmean'`` (the sum divided by the batch size ``N``, the
            mathematical KL divergence) | ``'sum'`` | ``'mean'`` (over all elements; warns,
            as torch). Default: ``'mean'``.
        log_target: whether ``target`` holds log-probabilities. Default: ``False``.

    Shape:
        Output: a scalar, or the broadcast shape with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> p = svertka.tensor([[0.5, 0.5]])
        >>> F.kl_div(p.log(), p, reduction="batchmean")
        tensor(0.)
    """
    fn = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = _reduction(reduction, size_average, reduce, fn)
    check_choice(reduction, ("none", "batchmean", "sum", "mean"), "reduction", fn)
    if not isinstance(log_target, bool):
        raise V.type_error(fn, f"log_target must be a bool, got log_target={_fmt(log_target)}")
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size "
                      "and the support size; 'batchmean' divides only by the batch size, as "
                      "the mathematical definition", UserWarning, stacklevel=2)
    check_float_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    check_float_tensor(target, "target", fn, like=input)
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise error(fn, f"target of shape {tuple(target.shape)} does not broadcast with input "
                        f"of shape {tuple(input.shape)}") from None
    red = "sum" if reduction == "batchmean" else reduction
    out = _pointwise(fn, "kl_div", input, target, red, log_target=log_target)
    if reduction == "batchmean" and input.ndim > 0:
        out = out / input.shape[0]
    return out
