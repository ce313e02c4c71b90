"""Dropout with torch.nn.functional's names: ``dropout``, ``dropout1d/2d/3d``,
``alpha_dropout``, ``feature_alpha_dropout``.

Masks are drawn from ``svertka.random.get_rng()`` (``svertka.manual_seed`` reproduces them) and
applied by the op ``svertka.ops.dropout.Dropout``, which keeps the mask for backward. In eval
mode (``training=False``), with ``p=0`` or on an empty input the input itself is returned, as
in torch. Channel-wise ("feature") dropout zeroes whole channels: its mask has shape
``(N, C, 1, ...)`` (``(C, 1, ...)`` for unbatched inputs).
"""

from __future__ import annotations

import numbers
import warnings

from svertka._validate import (
    _fmt,
    check_float_tensor,
    check_ndim,
    check_probability,
    error,
    type_error,
)
from svertka.ops import dropout as D

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]


def _check(fn, input, p):
    check_float_tensor(input, "input", fn)
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise type_error(fn, f"p must be a probability in [0, 1], got p={_fmt(p)}")
    return check_probability(p, "p", fn)


def _dropout(fn, input, p, training, inplace, lead=None, alpha=False):
    """Draw the mask (per element, or per channel over the first ``lead`` dims) and apply it."""
    if not training or p == 0 or input.numel() == 0:
        return input
    x = input._data
    shape = x.shape if lead is None else x.shape[:lead] + (1,) * (x.ndim - lead)
    keep = D.keep_mask(shape, p)
    shift = None
    if alpha and p < 1:
        noise, shift = D.alpha_dropout_noise(keep, p, x.dtype)
    else:
        noise = D.dropout_noise(keep, p, x.dtype)  # p == 1 gives zeros, also for alpha (torch)
    out = D.Dropout.apply(input, noise=noise, shift=shift)
    if inplace:
        return input._set_from(out, fn + "_")
    return out


def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale the
    others by ``1 / (1 - p)`` so the expectation is unchanged; the identity otherwise.

    Args:
        input: a floating-point tensor of any shape.
        p: the probability of zeroing an element, in [0, 1]. Default: 0.5.
        training: apply dropout (else return ``input``). Default: True.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``, the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> _ = svertka.manual_seed(0)
        >>> F.dropout(svertka.ones(8), p=0.5)
        tensor([0., 2., 2., 2., 0., 0., 0., 0.])
        >>> F.dropout(svertka.ones(3), p=0.5, training=False)
        tensor([1., 1., 1.])
    """
    p = _check("dropout", input, p)
    return _dropout("dropout", input, p, training, inplace)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, L)`` (or unbatched ``(C, L)``) with probability ``p``,
    scaling the kept channels by ``1 / (1 - p)``.

    Args:
        input: a 2-D or 3-D floating-point tensor.
        p: the probability of zeroing a channel. Default: 0.5.
        training: apply dropout (else return ``input``). Default: True.
        inplace: write the result into ``input``.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> _ = svertka.manual_seed(0)
        >>> F.dropout1d(svertka.ones(3, 2), p=0.5)
        tensor([[0., 0.],
                [2., 2.],
                [2., 2.]])
    """
    fn = "dropout1d"
    p = _check(fn, input, p)
    check_ndim(input, (2, 3), "input", fn, meaning="(unbatched (C, L) or batched (N, C, L))")
    return _dropout(fn, input, p, training, inplace, lead=input.ndim - 1)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, H, W)`` with probability ``p``, scaling the kept
    channels by ``1 / (1 - p)``.

    As torch does, a 3-D input is read as ``(N, C, L)`` (1-D channel-wise dropout) with a
    warning, and other ranks warn and are read as ``(N, C, *)``.

    Args:
        input: a floating-point tensor ``(N, C, H, W)``.
        p: the probability of zeroing a channel. Default: 0.5.
        training: apply dropout (else return ``input``). Default: True.
        inplace: write the result into ``input``.

    Shape:
        Input ``(N, C, H, W)``; output the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> _ = svertka.manual_seed(0)
        >>> y = F.dropout2d(svertka.ones(2, 3, 4, 4), p=0.5)
        >>> y.sum(dim=(2, 3))
        tensor([[ 0., 32., 32.],
                [32.,  0.,  0.]])
    """
    fn = "dropout2d"
    p = _check(fn, input, p)
    nd = input.ndim
    if nd < 2:
        raise error(fn, f"input must have at least 2 dimensions (N, C, *) for channel-wise "
                        f"dropout, got input of shape {tuple(input.shape)}")
    if nd not in (3, 4):
        warnings.warn(f"{fn}: received a {nd}-D input; dropout2d expects (N, C, H, W) and "
                      f"treats this as (N, C, *). Use dropout for element-wise dropout.",
                      UserWarning, stacklevel=2)
    elif nd == 3:
        warnings.warn(f"{fn}: received a 3-D input and, as torch does, treats it as (N, C, L) "
                      f"(channel-wise 1-D dropout); use dropout1d for that.", UserWarning,
                      stacklevel=2)
    return _dropout(fn, input, p, training, inplace, lead=2)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) with
    probability ``p``, scaling the kept channels by ``1 / (1 - p)``.

    Other ranks warn, as in torch, and are read as unbatched ``(C, *)``.

    Args:
        input: a 4-D or 5-D floating-point tensor.
        p: the probability of zeroing a channel. Default: 0.5.
        training: apply dropout (else return ``input``). Default: True.
        inplace: write the result into ``input``.

    Shape:
        Input ``(N, C, D, H, W)`` or ``(C, D, H, W)``; output the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.dropout3d(svertka.ones(1, 2, 3, 3, 3), p=0.25).shape
        svertka.Size([1, 2, 3, 3, 3])
    """
    fn = "dropout3d"
    p = _check(fn, input, p)
    nd = input.ndim
    if nd == 0:
        raise error(fn, "input must have at least 1 dimension for channel-wise dropout, got a "
                        "0-D input")
    if nd not in (4, 5):
        warnings.warn(f"{fn}: received a {nd}-D input; dropout3d expects (N, C, D, H, W) or "
                      f"(C, D, H, W) and treats this as (C, *). Use dropout for element-wise "
                      f"dropout.", UserWarning, stacklevel=2)
    return _dropout(fn, input, p, training, inplace, lead=2 if nd == 5 else 1)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped units are set to SELU's negative saturation value and
    an affine correction keeps zero mean and unit variance (torch's formula:
    ``y = a * (x * keep + alpha' * (1 - keep))`` shifted by ``b``, with
    ``a = ((1 - p)(1 + p alpha'^2))^(-1/2)``, ``alpha' = -1.7580993408473766``).

    Args:
        input: a floating-point tensor of any shape.
        p: the probability of dropping an element. Default: 0.5.
        training: apply dropout (else return ``input``). Default: False (as torch).
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> _ = svertka.manual_seed(0)
        >>> x = svertka.randn(100000)
        >>> y = F.alpha_dropout(x, p=0.2, training=True)
        >>> round(y.mean().item(), 1), round(y.std().item(), 1)
        (0.0, 1.0)
    """
    p = _check("alpha_dropout", input, p)
    return _dropout("alpha_dropout", input, p, training, inplace, alpha=True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels: the mask has shape ``(N, C, 1, ...)``.

    Args:
        input: a floating-point tensor ``(N, C, *)``.
        p: the probability of dropping a channel. Default: 0.5.
        training: apply dropout (else return ``input``). Default: False (as torch).
        inplace: write the result into ``input``.

    Shape:
        Input ``(N, C, *)``; output the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.feature_alpha_dropout(svertka.ones(2, 3, 4), p=0.5).shape
        svertka.Size([2, 3, 4])
    """
    fn = "feature_alpha_dropout"
    p = _check(fn, input, p)
    if input.ndim < 2:
        raise error(fn, f"input must have at least 2 dimensions (N, C, *) for channel-wise "
                        f"dropout, got input of shape {tuple(input.shape)}")
    return _dropout(fn, input, p, training, inplace, lead=2, alpha=True)
