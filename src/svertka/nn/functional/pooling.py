"""Pooling with torch.nn.functional's names: ``max_pool``, ``max_unpool``, ``avg_pool``,
``adaptive_avg_pool``, ``adaptive_max_pool`` (1d/2d/3d) and ``lp_pool`` (1d/2d/3d).

Every function checks its arguments here (errors name the function and the argument), turns
padding into ``(lo, hi)`` pairs and adds a batch axis to unbatched inputs, then applies an op
of ``svertka.ops.pool``; all ranks run on the one N-d core of ``svertka.kernels.pool``, which
reads windows one kernel offset at a time from the geometry of ``kernels/window.py``.

Beyond torch, the average poolings take a keyword ``dilation`` (spacing between the taps of a
window, as in max pooling).
"""

from __future__ import annotations

import math

from svertka._validate import (
    INT64_MAX,
    _fmt,
    check_float_tensor,
    check_ndim,
    check_numel,
    check_real,
    check_tensor,
    error,
    is_int,
    ntuple,
    type_error,
)
from svertka.kernels import pool as K
from svertka.ops.pool import AdaptiveAvgPoolNd, AvgPoolNd, GatherPlane, MaxPoolNd, MaxUnpool

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d",
           "max_unpool1d", "max_unpool2d", "max_unpool3d",
           "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "lp_pool1d", "lp_pool2d", "lp_pool3d"]


# ----------------------------------------------------------------------------- argument checks

def _check_input(fn, input, n):
    """Type, rank, dtype and non-empty planes; returns whether the input is batched."""
    check_tensor(input, "input", fn)
    shape = input._data.shape
    if len(shape) not in (n + 1, n + 2):
        check_ndim(input, (n + 1, n + 2), "input", fn,
                   meaning=f"(unbatched (C, L...) or batched (N, C, L...) with {n} spatial "
                           f"dims)")
    check_float_tensor(input, "input", fn)
    if 0 in shape[-(n + 1):]:
        raise error(fn, f"input must have non-zero channel and spatial sizes (only the batch "
                        f"may be empty), got input of shape {shape}")
    return len(shape) == n + 2


def _stride(fn, stride, n, kernel):
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel
    return ntuple(stride, n, "stride", fn)


# (fn, n, input shape, kernel_size, stride, padding, dilation, bool(ceil_mode)) -> the
# result of ``_window``, for arguments that are plain ints (or tuples of ints, or None): a
# network pools the same shapes with the same arguments every step, and these checks cost
# more than a small pooling itself. Only checked (valid) arguments are kept; bounded.
_WINDOWS = {}


def _plain(v):
    """Whether ``v`` can be part of a ``_WINDOWS`` key: an int, a tuple of ints, or None
    (exact types: ``2.0`` or ``True`` must still be refused by the checks, not found here)."""
    t = type(v)
    return v is None or t is int or (t is tuple and all(type(i) is int for i in v))


def _window(fn, n, input, kernel_size, stride, padding, dilation, ceil_mode):
    """Normalised ``kernel, stride, pads, dilation`` and the output sizes, all checked."""
    key = None
    if (_plain(kernel_size) and _plain(stride) and _plain(padding) and _plain(dilation)
            and type(ceil_mode) is bool):
        key = (fn, n, input._data.shape, kernel_size, stride, padding, dilation, ceil_mode)
        hit = _WINDOWS.get(key)
        if hit is not None:
            return hit
    result = _check_window(fn, n, input, kernel_size, stride, padding, dilation, ceil_mode)
    if key is not None:
        if len(_WINDOWS) >= 256:
            _WINDOWS.clear()
        _WINDOWS[key] = result
    return result


def _check_window(fn, n, input, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = ntuple(kernel_size, n, "kernel_size", fn)
    stride = _stride(fn, stride, n, kernel)
    pad = ntuple(padding, n, "padding", fn, minimum=0)
    dilation = ntuple(dilation, n, "dilation", fn)
    if any(p > k // 2 for p, k in zip(pad, kernel)):
        raise error(fn, f"padding must be at most half of kernel_size (padding <= "
                        f"kernel_size // 2 per axis), got padding={_fmt(padding)}",
                    f"kernel_size={kernel}")
    pads = tuple((p, p) for p in pad)
    spatial = tuple(input.shape[-n:])
    out = K.pool_out_shape(spatial, kernel, stride, pads, dilation, bool(ceil_mode))
    if any(o < 1 for o in out):
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        padded = tuple(i + 2 * p for i, p in zip(spatial, pad))
        raise error(fn, f"output size {out} is too small: kernel size {span} (with dilation) "
                        f"is larger than the padded input {padded}",
                    f"input {tuple(input.shape)}, kernel_size={kernel}, padding={pad}")
    full = K._full_pads(spatial, kernel, stride, pads, dilation, out)
    lead = tuple(input.shape[:-n])
    check_numel(lead + tuple(i + lo + hi for i, (lo, hi) in zip(spatial, full)), fn,
                "padded input", f"kernel_size={kernel}, stride={stride}, padding={pad}")
    check_numel(lead + tuple(out), fn)
    return kernel, stride, pads, dilation, out


def _batch(input, batched):
    return input if batched else input.unsqueeze(0)


def _unbatch(y, batched):
    return y if batched else y.squeeze(0)


# ----------------------------------------------------------------------------- max pooling

def _max_pool(fn, n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    from svertka.tensor import Tensor

    batched = _check_input(fn, input, n)
    kernel, stride, pads, dilation, _ = _window(fn, n, input, kernel_size, stride, padding,
                                                dilation, ceil_mode)
    x = _batch(input, batched)
    if not return_indices:
        return _unbatch(MaxPoolNd.apply(x, kernel=kernel, stride=stride, pads=pads,
                                        dilation=dilation, ceil_mode=bool(ceil_mode)), batched)
    idx, empty = K.max_pool_indices(x._data, kernel, stride, pads, dilation, bool(ceil_mode))
    y = _unbatch(GatherPlane.apply(x, indices=idx, n=n, empty=empty), batched)
    return y, Tensor._make(idx if batched else idx[0])


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    r"""1-D max pooling over an input of several planes, as ``torch.nn.functional.max_pool1d``.

    Args:
        input: ``(N, C, L)`` or unbatched ``(C, L)``, floating point.
        kernel_size: window size, an int or a 1-tuple.
        stride: step between windows; defaults to ``kernel_size``.
        padding: implicit ``-inf`` on both sides, at most ``kernel_size // 2``.
        dilation: spacing between the taps of a window.
        ceil_mode: round the output size up (the last window must start inside the input or
            the low padding).
        return_indices: also return the flat index of each maximum in its input plane (int64),
            as ``max_unpool1d`` takes.

    Shape:
        - Output: ``(N, C, L_out)`` with
          ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
          (``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.max_pool1d(svertka.tensor([[[1., 3., 2., 5., 4.]]]), 2, return_indices=True)
        (tensor([[[3., 5.]]]), tensor([[[1, 3]]]))
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    r"""2-D max pooling over an input of several planes, as ``torch.nn.functional.max_pool2d``.

    The gradient of each output goes to the position of its window's maximum only (the first
    one on ties, as torch); overlapping windows add up.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``, floating point.
        kernel_size: an int or a 2-tuple.
        stride: an int or a 2-tuple; defaults to ``kernel_size``.
        padding: implicit ``-inf`` on both sides, at most ``kernel_size // 2`` per axis.
        dilation: spacing between the taps of a window.
        ceil_mode: round the output size up.
        return_indices: also return the flat index ``h * W + w`` of each maximum (int64).

    Shape:
        - Output: ``(N, C, H_out, W_out)`` with, per axis,
          ``out = floor((in + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
          (``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([[[1., 2.], [4., 3.]]], requires_grad=True)
        >>> y, i = F.max_pool2d(x, 2, return_indices=True)
        >>> y.item(), i.tolist()
        (4.0, [[[2]]])
        >>> y.sum().backward()
        >>> x.grad
        tensor([[[0., 0.],
                 [1., 0.]]])
        >>> F.max_pool2d(svertka.randn(8, 3, 32, 32), 3, stride=2, padding=1).shape
        svertka.Size([8, 3, 16, 16])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    r"""3-D max pooling over an input of several planes, as ``torch.nn.functional.max_pool3d``.

    Args:
        input: ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``, floating point.
        kernel_size, stride, padding, dilation, ceil_mode, return_indices: as in
            ``max_pool2d``, with 3-tuples; indices are ``(d * H + h) * W + w``.

    Shape:
        - Output: ``(N, C, D_out, H_out, W_out)``, per axis as in ``max_pool2d``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.max_pool3d(svertka.randn(2, 3, 8, 8, 8), 2).shape
        svertka.Size([2, 3, 4, 4, 4])
    """
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


# ----------------------------------------------------------------------------- max unpooling

def _unpool_size(fn, n, spatial, kernel, stride, pad, output_size):
    default = tuple((i - 1) * s - 2 * p + k
                    for i, s, p, k in zip(spatial, stride, pad, kernel))
    if output_size is None:
        out = default
    else:
        if not (isinstance(output_size, (tuple, list))
                and all(is_int(o) for o in output_size)):
            raise type_error(fn, f"output_size must be a tuple of {n} or {n + 2} ints, got "
                                 f"output_size={_fmt(output_size)}")
        out = tuple(int(o) for o in output_size)
        if len(out) == n + 2:
            out = out[2:]
        if len(out) != n:
            raise error(fn, f"output_size must have {n} or {n + 2} elements, got "
                            f"output_size={_fmt(output_size)}")
        for o, d, s in zip(out, default, stride):
            if not d - s < o < d + s:
                raise error(fn, f"output_size must lie strictly between {d - s} and {d + s} "
                                f"per axis (the default size {default} -/+ stride), got "
                                f"output_size={_fmt(output_size)}")
    check_numel(out, fn, context=f"kernel_size={kernel}, stride={stride}")
    if any(o < 1 for o in out):
        raise error(fn, f"output size {out} must be positive",
                    f"input spatial size {spatial}, kernel_size={kernel}, stride={stride}, "
                    f"padding={pad}")
    return out


def _max_unpool(fn, n, input, indices, kernel_size, stride, padding, output_size):
    batched = _check_input(fn, input, n)
    check_tensor(indices, "indices", fn)
    if indices._data.dtype.kind not in "iu":
        raise type_error(fn, f"indices must be an integer (int64) tensor, got indices of dtype "
                             f"{indices._data.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise error(fn, f"indices must have the shape of input {tuple(input.shape)}, got "
                        f"indices of shape {tuple(indices.shape)}")
    kernel = ntuple(kernel_size, n, "kernel_size", fn)
    stride = _stride(fn, stride, n, kernel)
    pad = ntuple(padding, n, "padding", fn, minimum=0)
    out = _unpool_size(fn, n, tuple(input.shape[-n:]), kernel, stride, pad, output_size)
    idx = indices._data.astype("int64", copy=False)
    plane = math.prod(out)
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise error(fn, f"indices must lie in [0, {plane}) for an output of spatial size "
                        f"{out}, got indices in [{idx.min()}, {idx.max()}]")
    x = _batch(input, batched)
    y = MaxUnpool.apply(x, indices=idx if batched else idx[None], out=out)
    return _unbatch(y, batched)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    r"""Partial inverse of ``max_pool1d``: each value goes back to its index, zeros elsewhere.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``, the pooled values.
        indices: int64 tensor of ``input``'s shape, as ``max_pool1d(..., return_indices=True)``
            gives.
        kernel_size, stride, padding: those of the max pooling.
        output_size: the spatial size to restore (``(L_out,)`` or ``(N, C, L_out)``), strictly
            between the default size ``-/+ stride``.

    Shape:
        - Output: ``(N, C, L_out)`` with ``L_out = (L - 1) * stride - 2 * padding +
          kernel_size`` unless ``output_size`` is given.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> y, i = F.max_pool1d(svertka.tensor([[[1., 3., 2., 5., 4.]]]), 2, return_indices=True)
        >>> F.max_unpool1d(y, i, 2, output_size=(5,))
        tensor([[[0., 3., 0., 5., 0.]]])
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    r"""Partial inverse of ``max_pool2d``: each value goes back to its index, zeros elsewhere.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        indices: int64 tensor of ``input``'s shape (flat indices ``h * W_out + w``).
        kernel_size, stride, padding: those of the max pooling.
        output_size: ``(H_out, W_out)`` or ``(N, C, H_out, W_out)``.

    Shape:
        - Output: ``(N, C, H_out, W_out)``, per axis ``(in - 1) * stride - 2 * padding +
          kernel_size`` unless ``output_size`` is given.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([[[1., 2.], [4., 3.]]])
        >>> F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2)
        tensor([[[0., 0.],
                 [4., 0.]]])
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    r"""Partial inverse of ``max_pool3d``: each value goes back to its index, zeros elsewhere.

    Args:
        input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        indices, kernel_size, stride, padding, output_size: as in ``max_unpool2d``, 3-D.

    Shape:
        - Output: ``(N, C, D_out, H_out, W_out)``, per axis as in ``max_unpool2d``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> y, i = F.max_pool3d(svertka.randn(1, 2, 4, 4, 4), 2, return_indices=True)
        >>> F.max_unpool3d(y, i, 2).shape
        svertka.Size([1, 2, 4, 4, 4])
    """
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                       output_size)


# ----------------------------------------------------------------------------- average pooling

def _avg_pool(fn, n, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, dilation):
    batched = _check_input(fn, input, n)
    kernel, stride, pads, dilation, _ = _window(fn, n, input, kernel_size, stride, padding,
                                                dilation, ceil_mode)
    if divisor_override is not None:
        if not is_int(divisor_override):
            raise type_error(fn, f"divisor_override must be a non-zero int or None, got "
                                 f"divisor_override={_fmt(divisor_override)}")
        if abs(divisor_override) > INT64_MAX:
            raise error(fn, f"divisor_override must fit in int64, got "
                            f"divisor_override={divisor_override}")
        if divisor_override == 0:
            raise error(fn, "divisor_override must be a non-zero int or None, got "
                            "divisor_override=0")
        divisor_override = int(divisor_override)
    y = AvgPoolNd.apply(_batch(input, batched), kernel=kernel, stride=stride, pads=pads,
                        dilation=dilation, ceil_mode=bool(ceil_mode),
                        count_include_pad=bool(count_include_pad),
                        divisor_override=divisor_override)
    return _unbatch(y, batched)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, *, dilation=1):
    r"""1-D average pooling, as ``torch.nn.functional.avg_pool1d`` (plus ``dilation``).

    Args:
        input: ``(N, C, L)`` or unbatched ``(C, L)``, floating point.
        kernel_size: window size, an int or a 1-tuple.
        stride: step between windows; defaults to ``kernel_size``.
        padding: implicit zeros on both sides, at most ``kernel_size // 2``.
        ceil_mode: round the output size up; the last window is then clipped to the padded
            input for the divisor.
        count_include_pad: divide by the window size including the zero padding (``True``)
            or by the number of input elements in the window.
        dilation: (keyword, not in torch) spacing between the taps of a window; the divisor
            counts taps.

    Shape:
        - Output: ``(N, C, L_out)`` with
          ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
          (``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([[[0., 1., 2., 3., 4.]]])
        >>> F.avg_pool1d(x, 2, ceil_mode=True)
        tensor([[[0.5000, 2.5000, 4.0000]]])
        >>> F.avg_pool1d(x, 2, padding=1, count_include_pad=False)
        tensor([[[0.0000, 1.5000, 3.5000]]])
        >>> F.avg_pool1d(x, 2, stride=1, dilation=2)
        tensor([[[1., 2., 3.]]])
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None, dilation)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, *, dilation=1):
    r"""2-D average pooling, as ``torch.nn.functional.avg_pool2d`` (plus ``dilation``).

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``, floating point.
        kernel_size: an int or a 2-tuple.
        stride: an int or a 2-tuple; defaults to ``kernel_size``.
        padding: implicit zeros on both sides, at most ``kernel_size // 2`` per axis.
        ceil_mode: round the output size up (windows clipped to the padded input).
        count_include_pad: count the zero padding in the divisor.
        divisor_override: if given, divide every window sum by it instead.
        dilation: (keyword, not in torch) spacing between the taps of a window.

    Shape:
        - Output: ``(N, C, H_out, W_out)`` with, per axis,
          ``out = floor((in + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
          (``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.arange(16.).reshape(1, 4, 4)
        >>> F.avg_pool2d(x, 2)
        tensor([[[ 2.5000,  4.5000],
                 [10.5000, 12.5000]]])
        >>> F.avg_pool2d(x, 2, divisor_override=1)
        tensor([[[10., 18.],
                 [42., 50.]]])
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, dilation)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, *, dilation=1):
    r"""3-D average pooling, as ``torch.nn.functional.avg_pool3d`` (plus ``dilation``).

    Args:
        input: ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``, floating point.
        kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
            dilation: as in ``avg_pool2d``, with 3-tuples.

    Shape:
        - Output: ``(N, C, D_out, H_out, W_out)``, per axis as in ``avg_pool2d``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.avg_pool3d(svertka.ones(1, 2, 4, 4, 4), 2, padding=1).shape
        svertka.Size([1, 2, 3, 3, 3])
    """
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, dilation)


# ----------------------------------------------------------------------------- adaptive pooling

def _adaptive_size(fn, output_size, n, spatial):
    what = f"a positive int, None, or a tuple of {n} positive ints or None"
    if output_size is None or is_int(output_size):
        items = (output_size,) * n
    elif isinstance(output_size, (tuple, list)) and all(o is None or is_int(o)
                                                        for o in output_size):
        items = tuple(output_size)
        if len(items) != n:
            raise error(fn, f"output_size must be {what}, got output_size={_fmt(output_size)}")
    else:
        raise type_error(fn, f"output_size must be {what}, got output_size="
                             f"{_fmt(output_size)}")
    out = tuple(s if o is None else int(o) for o, s in zip(items, spatial))
    if any(o < 1 or o > INT64_MAX for o in out):
        raise error(fn, f"output_size must be {what}, got output_size={_fmt(output_size)}")
    return out


def _adaptive_avg(fn, n, input, output_size):
    batched = _check_input(fn, input, n)
    out = _adaptive_size(fn, output_size, n, tuple(input.shape[-n:]))
    check_numel(tuple(input.shape[:-n]) + out, fn)
    return _unbatch(AdaptiveAvgPoolNd.apply(_batch(input, batched), out=out), batched)


def _adaptive_max(fn, n, input, output_size, return_indices):
    from svertka.tensor import Tensor

    batched = _check_input(fn, input, n)
    out = _adaptive_size(fn, output_size, n, tuple(input.shape[-n:]))
    check_numel(tuple(input.shape[:-n]) + out, fn)
    x = _batch(input, batched)
    idx = K.adaptive_max_indices(x._data, out)
    y = _unbatch(GatherPlane.apply(x, indices=idx, n=n), batched)
    if return_indices:
        return y, Tensor._make(idx if batched else idx[0])
    return y


def adaptive_avg_pool1d(input, output_size):
    r"""1-D average pooling to a fixed output length, as torch's ``adaptive_avg_pool1d``.

    Output bin ``i`` averages ``[floor(i * L / O), ceil((i + 1) * L / O))``.

    Args:
        input: ``(N, C, L)`` or unbatched ``(C, L)``, floating point.
        output_size: ``O``, a positive int (or a 1-tuple; ``None`` keeps ``L``).

    Shape:
        - Output: ``(N, C, O)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.adaptive_avg_pool1d(svertka.tensor([[[0., 1., 2., 3., 4.]]]), 3)
        tensor([[[0.5000, 2.0000, 3.5000]]])
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    r"""2-D average pooling to a fixed output size, as torch's ``adaptive_avg_pool2d``.

    Per axis, output bin ``i`` averages ``[floor(i * L / O), ceil((i + 1) * L / O))``;
    ``output_size=1`` is global average pooling.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``, floating point.
        output_size: an int or a 2-tuple of ints; ``None`` keeps that axis' size.

    Shape:
        - Output: ``(N, C, H_out, W_out)`` = ``output_size``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.adaptive_avg_pool2d(svertka.randn(4, 8, 7, 9), (3, None)).shape
        svertka.Size([4, 8, 3, 9])
        >>> F.adaptive_avg_pool2d(svertka.arange(4.).reshape(1, 2, 2), 1)
        tensor([[[1.5000]]])
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    r"""3-D average pooling to a fixed output size, as torch's ``adaptive_avg_pool3d``.

    Args:
        input: ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``, floating point.
        output_size: an int or a 3-tuple of ints or ``None``.

    Shape:
        - Output: ``(N, C, D_out, H_out, W_out)`` = ``output_size``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.adaptive_avg_pool3d(svertka.randn(1, 2, 5, 6, 7), (2, 3, 1)).shape
        svertka.Size([1, 2, 2, 3, 1])
    """
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    r"""1-D max pooling to a fixed output length, as torch's ``adaptive_max_pool1d``.

    Output bin ``i`` takes the maximum of ``[floor(i * L / O), ceil((i + 1) * L / O))``.

    Args:
        input: ``(N, C, L)`` or unbatched ``(C, L)``, floating point.
        output_size: ``O``, a positive int (or a 1-tuple).
        return_indices: also return the index of each maximum in its plane (int64).

    Shape:
        - Output: ``(N, C, O)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.adaptive_max_pool1d(svertka.tensor([[[0., 5., 2., 3., 4.]]]), 3,
        ...                       return_indices=True)
        (tensor([[[5., 5., 4.]]]), tensor([[[1, 1, 4]]]))
    """
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    r"""2-D max pooling to a fixed output size, as torch's ``adaptive_max_pool2d``.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``, floating point.
        output_size: an int or a 2-tuple of ints or ``None`` (keep that size).
        return_indices: also return the flat index ``h * W + w`` of each maximum (int64).

    Shape:
        - Output: ``(N, C, H_out, W_out)`` = ``output_size``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.adaptive_max_pool2d(svertka.randn(2, 3, 7, 5), (2, 2)).shape
        svertka.Size([2, 3, 2, 2])
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    r"""3-D max pooling to a fixed output size, as torch's ``adaptive_max_pool3d``.

    Args:
        input: ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``, floating point.
        output_size: an int or a 3-tuple of ints or ``None``.
        return_indices: also return the flat index of each maximum (int64).

    Shape:
        - Output: ``(N, C, D_out, H_out, W_out)`` = ``output_size``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.adaptive_max_pool3d(svertka.randn(1, 2, 5, 4, 3), 2).shape
        svertka.Size([1, 2, 2, 2, 2])
    """
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


# ----------------------------------------------------------------------------- power-average

def _lp_pool(fn, n, input, norm_type, kernel_size, stride, ceil_mode):
    _check_input(fn, input, n)
    check_real(norm_type, "norm_type", fn)
    if norm_type == 0:
        raise error(fn, "norm_type must be non-zero (the result is (sum x^p)^(1/p)), got "
                        "norm_type=0")
    kernel = ntuple(kernel_size, n, "kernel_size", fn)
    if math.isinf(norm_type):
        # torch's limits: p = inf is the max of |x| over the window, p = -inf the min.
        a = input.abs() if norm_type > 0 else -input.abs()
        y = _max_pool(fn, n, a, kernel, stride, 0, 1, ceil_mode, False)
        return y if norm_type > 0 else -y
    # torch's definition: avg_pool of x^p, times the kernel size, sign-preserving root.
    out = _avg_pool(fn, n, input.pow(norm_type), kernel, stride, 0, ceil_mode, True, None, 1)
    return (out.sign() * out.abs().relu()).mul(math.prod(kernel)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    r"""1-D power-average pooling ``(sum over the window of x^p)^(1/p)``, as torch's.

    ``p = inf`` is max pooling of ``|x|`` (``-inf``: min pooling of ``|x|``), ``p = 1`` sum
    pooling. As in torch it is otherwise computed as
    ``avg_pool1d(x^p) * kernel_size`` (so with ``ceil_mode`` a clipped last window is
    rescaled to the full kernel size), and negative sums give ``0``.

    Args:
        input: ``(N, C, L)`` or unbatched ``(C, L)``, floating point.
        norm_type: ``p``, a non-zero real number.
        kernel_size: window size, an int or a 1-tuple.
        stride: defaults to ``kernel_size``.
        ceil_mode: round the output size up.

    Shape:
        - Output: ``(N, C, L_out)``, ``L_out = floor((L - kernel_size) / stride) + 1``
          (``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.lp_pool1d(svertka.tensor([[[3., 4., 1., 0.]]]), 2, 2)
        tensor([[[5., 1.]]])
    """
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    r"""2-D power-average pooling ``(sum over the window of x^p)^(1/p)``, as torch's.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``, floating point.
        norm_type: ``p``, a non-zero real number.
        kernel_size: an int or a 2-tuple.
        stride: defaults to ``kernel_size``.
        ceil_mode: round the output size up.

    Shape:
        - Output: ``(N, C, H_out, W_out)``, per axis ``floor((in - kernel_size) / stride) +
          1`` (``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.lp_pool2d(svertka.ones(1, 4, 4), 2, 2)
        tensor([[[2., 2.],
                 [2., 2.]]])
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    r"""3-D power-average pooling ``(sum over the window of x^p)^(1/p)``, as torch's.

    Args:
        input: ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``, floating point.
        norm_type, kernel_size, stride, ceil_mode: as in ``lp_pool2d``, with 3-tuples.

    Shape:
        - Output: ``(N, C, D_out, H_out, W_out)``, per axis as in ``lp_pool2d``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.lp_pool3d(svertka.ones(1, 1, 2, 2, 2), 1, 2)
        tensor([[[[[8.]]]]])
    """
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)
