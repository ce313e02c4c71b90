"""Convolution arithmetic: output sizes of convolutions, pooling and transposed convolutions.

The formulas of Dumoulin and Visin, "A guide to convolution arithmetic for deep learning"
(2016), with torch's conventions; the forward formula is the one the kernels use
(``svertka.kernels.window.out_size``).
"""

from __future__ import annotations

from svertka import _validate as V
from svertka.kernels.window import out_size

__all__ = ["conv_output_size", "conv_transpose_output_size"]


def _per_axis(fn, size, **args):
    """Normalise ``size`` and the per-axis arguments to tuples of the same length."""
    scalar = V.is_int(size)
    if scalar:
        sizes = (int(size),)
    elif isinstance(size, (tuple, list)) and size and all(V.is_int(s) for s in size):
        sizes = tuple(int(s) for s in size)
    else:
        raise V.type_error(fn, f"size must be an int or a non-empty tuple of ints, "
                               f"got size={V._fmt(size)}")
    if any(s < 0 for s in sizes):
        raise V.error(fn, f"size must be non-negative, got size={V._fmt(size)}")
    n = len(sizes)
    out = {}
    for name, (value, minimum) in args.items():
        out[name] = V.ntuple(value, n, name, fn, minimum=minimum)
    return scalar, sizes, out


def conv_output_size(size, kernel, stride=1, padding=0, dilation=1, ceil_mode=False):
    """Output size of a convolution or pooling window along each spatial axis.

    ``out = floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1`` (``ceil``
    with ``ceil_mode``, where, as in torch's pooling, the last window must start inside the
    input or the left padding). 0 when the dilated kernel does not fit.

    Args:
        size (int or tuple of ints): input size(s), one per spatial axis.
        kernel, stride, dilation (int or tuple): positive; ints apply to every axis.
        padding (int or tuple): zero padding on both sides, non-negative.
        ceil_mode (bool): round the division up (pooling's ``ceil_mode``).

    Returns:
        an int when ``size`` is an int, else a tuple of ints.

    Examples::

        >>> from svertka.analysis import conv_output_size
        >>> conv_output_size(224, 11, stride=4, padding=2)     # AlexNet's first layer
        55
        >>> conv_output_size((32, 32), 3, padding=1)
        (32, 32)
        >>> conv_output_size(7, 3, stride=2, dilation=2), conv_output_size(6, 3, 2, ceil_mode=True)
        (2, 3)
    """
    fn = "conv_output_size"
    scalar, sizes, a = _per_axis(fn, size, kernel=(kernel, 1), stride=(stride, 1),
                                 padding=(padding, 0), dilation=(dilation, 1))
    out = tuple(out_size(i, k, s, p, p, d, bool(ceil_mode))
                for i, k, s, p, d in zip(sizes, a["kernel"], a["stride"], a["padding"],
                                         a["dilation"]))
    return out[0] if scalar else out


def conv_transpose_output_size(size, kernel, stride=1, padding=0, output_padding=0,
                               dilation=1):
    """Output size of a transposed convolution along each spatial axis (torch's formula).

    ``out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``:
    the input size of the convolution whose input gradient the transposed convolution is.
    ``output_padding`` must be smaller than ``stride`` or ``dilation``, as in torch.

    Args:
        size (int or tuple of ints): input size(s), one per spatial axis.
        kernel, stride, dilation (int or tuple): positive.
        padding, output_padding (int or tuple): non-negative.

    Examples::

        >>> from svertka.analysis import conv_transpose_output_size, conv_output_size
        >>> conv_transpose_output_size(16, 4, stride=2, padding=1)   # DCGAN's 2x upsampling
        32
        >>> conv_output_size(32, 4, stride=2, padding=1)             # and back
        16
        >>> conv_transpose_output_size((3, 5), 3, stride=2, output_padding=(0, 1))
        (7, 12)
    """
    fn = "conv_transpose_output_size"
    scalar, sizes, a = _per_axis(fn, size, kernel=(kernel, 1), stride=(stride, 1),
                                 padding=(padding, 0), output_padding=(output_padding, 0),
                                 dilation=(dilation, 1))
    out = []
    for i, k, s, p, op, d in zip(sizes, a["kernel"], a["stride"], a["padding"],
                                 a["output_padding"], a["dilation"]):
        if op >= s and op >= d:
            raise V.error(fn, f"output_padding must be smaller than either stride or dilation, "
                              f"got output_padding={output_padding!r}, stride={stride!r}, "
                              f"dilation={dilation!r}")
        o = (i - 1) * s - 2 * p + d * (k - 1) + op + 1
        if o < 0:
            raise V.error(fn, f"the output size {o} is negative (size {i}, padding {p})",
                          f"size={size!r}, padding={padding!r}")
        out.append(o)
    out = tuple(out)
    return out[0] if scalar else out
