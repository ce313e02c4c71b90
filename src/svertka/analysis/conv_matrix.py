"""The matrix of a convolution: ``conv(x).ravel() == M @ x.ravel()``, for teaching.

A convolution is linear in its input, so it is a (sparse, banded, weight-sharing) matrix.
Its transpose ``M.T`` is the transposed convolution, which is why the gradient of a
convolution w.r.t. its input is a transposed convolution.
"""

from __future__ import annotations

import numpy as np

from svertka import _validate as V
from svertka.kernels.window import out_shape

__all__ = ["conv_matrix"]


def _scipy_sparse():
    try:
        import scipy.sparse as sp
    except ImportError:
        return None
    return sp


def conv_matrix(weight, input_shape, stride=1, padding=0, dilation=1, groups=1, sparse=None):
    """The explicit matrix ``M`` of a convolution (cross-correlation, no bias).

    Row ``r`` is output element ``r`` of ``conv(x)[0].ravel()`` (``(C_out, *O)`` in C order),
    column ``c`` input element ``c`` of ``x.ravel()`` (``(C_in, *I)``); the entries are the
    weights that element ``c`` meets in window ``r`` (zero padding simply drops columns).
    Built with index arithmetic over the output positions and kernel taps at once.

    Args:
        weight (Tensor or ndarray): ``(C_out, C_in / groups, *K)`` with 1, 2 or 3 spatial axes.
        input_shape (tuple): ``(C_in, *I)`` without the batch dimension, e.g. ``(C, H, W)``
            or ``(C, L)``.
        stride, padding, dilation (int or tuple): as in ``conv2d`` (padding: zeros on both
            sides, non-negative).
        groups (int): as in ``conv2d``.
        sparse (bool or None): ``True`` for a ``scipy.sparse.csr_matrix`` (needs SciPy),
            ``False`` for a dense ndarray, ``None`` (default) sparse when SciPy is installed.

    Shape:
        ``M``: ``(C_out * prod(O), C_in * prod(I))`` with ``O`` the convolution's output size
        (``floor((I + 2p - d(K - 1) - 1) / s) + 1``).

    Examples::

        >>> import numpy as np
        >>> from svertka.analysis import conv_matrix
        >>> w = np.array([[[1.0, 2.0, 3.0]]])                # one 1-D filter of 3 taps
        >>> conv_matrix(w, (1, 5), sparse=False)
        array([[1., 2., 3., 0., 0.],
               [0., 1., 2., 3., 0.],
               [0., 0., 1., 2., 3.]])
        >>> conv_matrix(np.ones((2, 3, 3, 3)), (3, 8, 8), stride=2, padding=1).shape
        (32, 192)
    """
    from svertka.tensor import Tensor

    fn = "conv_matrix"
    if isinstance(weight, Tensor):
        weight = weight.detach().numpy()
    if not isinstance(weight, np.ndarray):
        raise V.type_error(fn, f"weight must be a Tensor or an ndarray, got "
                               f"{type(weight).__name__}")
    if weight.ndim not in (3, 4, 5):
        raise V.error(fn, f"weight must be 3-D, 4-D or 5-D (C_out, C_in / groups, *K), got "
                          f"weight of shape {weight.shape}")
    n = weight.ndim - 2
    if (not isinstance(input_shape, (tuple, list)) or len(input_shape) != n + 1
            or not all(V.is_int(v) and v > 0 for v in input_shape)):
        raise V.error(fn, f"input_shape must be a tuple of {n + 1} positive ints (C_in, *spatial) "
                          f"for a weight with {n} spatial axes, got input_shape={input_shape!r}")
    if not V.is_int(groups) or groups <= 0:
        raise V.error(fn, f"groups must be a positive int, got groups={groups!r}")
    if sparse not in (None, True, False):
        raise V.type_error(fn, f"sparse must be None, True or False, got sparse={sparse!r}")
    stride = V.ntuple(stride, n, "stride", fn)
    padding = V.ntuple(padding, n, "padding", fn, minimum=0)
    dilation = V.ntuple(dilation, n, "dilation", fn)
    c_in, spatial = int(input_shape[0]), tuple(int(v) for v in input_shape[1:])
    c_out, c_g, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
    if c_g * groups != c_in or c_out % groups:
        raise V.error(fn, f"weight of shape {weight.shape} with groups={groups} expects "
                          f"{c_g * groups} input channels and C_out divisible by groups, got "
                          f"input_shape={tuple(input_shape)}")
    outs = out_shape(spatial, kernel, stride, [(p, p) for p in padding], dilation)
    if 0 in outs and any(i + 2 * p < d * (k - 1) + 1 for i, p, d, k
                         in zip(spatial, padding, dilation, kernel)):
        raise V.error(fn, f"the kernel {tuple(kernel)} (dilation {dilation}) is larger than the "
                          f"padded input {tuple(i + 2 * p for i, p in zip(spatial, padding))}",
                      f"input_shape={tuple(input_shape)}, padding={padding}")
    if sparse is None:
        sparse = _scipy_sparse() is not None
    if sparse and _scipy_sparse() is None:
        raise V.error(fn, "sparse=True needs SciPy (pip install scipy)")

    # broadcast layout of every (output element, tap) pair: (C_out, *O, C_g, *K)
    nd = 2 + 2 * n

    def axis(values, at):
        shape = [1] * nd
        shape[at] = values.shape[0]
        return values.reshape(shape)

    co = np.arange(c_out)
    ci = (co // (c_out // groups))[:, None] * c_g + np.arange(c_g)[None, :]  # (C_out, C_g)
    ci = ci.reshape((c_out,) + (1,) * n + (c_g,) + (1,) * n)
    row = axis(co, 0) * int(np.prod(outs))
    col = ci * int(np.prod(spatial))
    valid = np.ones((1,) * nd, dtype=bool)
    o_stride = np.cumprod((1,) + outs[::-1])[::-1][1:]      # C-order strides of *O
    i_stride = np.cumprod((1,) + spatial[::-1])[::-1][1:]   # C-order strides of *I
    for a in range(n):
        o = axis(np.arange(outs[a]), 1 + a)
        k = axis(np.arange(kernel[a]), 2 + n + a)
        pos = o * stride[a] + k * dilation[a] - padding[a]   # input index of (o, k)
        valid = valid & (pos >= 0) & (pos < spatial[a])
        row = row + o * int(o_stride[a])
        col = col + pos * int(i_stride[a])
    full = (c_out,) + outs + (c_g,) + tuple(kernel)
    valid = np.broadcast_to(valid, full)
    rows = np.broadcast_to(row, full)[valid]
    cols = np.broadcast_to(col, full)[valid]
    w = weight.reshape((c_out,) + (1,) * n + (c_g,) + tuple(kernel))
    vals = np.broadcast_to(w, full)[valid]
    shape = (c_out * int(np.prod(outs)), c_in * int(np.prod(spatial)))
    if sparse:
        sp = _scipy_sparse()
        return sp.csr_matrix((vals, (rows, cols)), shape=shape)
    m = np.zeros(shape, dtype=weight.dtype)
    m[rows, cols] = vals  # each (output, input) pair meets one tap at most
    return m
