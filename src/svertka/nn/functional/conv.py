"""Convolutions with torch.nn.functional's names: ``conv1d/2d/3d``, ``conv_transpose1d/2d/3d``,
``unfold``, ``fold``, and ``locally_connected2d`` (Keras' LocallyConnected2D; torch has none).

Every function checks its arguments here (errors name the function and the argument), turns
padding into ``(lo, hi)`` pairs and adds a batch axis to unbatched inputs, then applies one op
of ``svertka.ops.conv``; all of them run on the one N-d core of ``svertka.kernels.conv``.
"""

from __future__ import annotations

import math

from svertka._validate import (
    _fmt,
    check_choice,
    check_float_tensor,
    check_ndim,
    check_numel,
    check_tensor,
    error,
    is_int,
    ntuple,
    type_error,
)
from svertka.kernels.conv import conv_out_shape, same_pads
from svertka.ops.conv import ConvNd, ConvTransposeNd, Fold, LocallyConnectedNd, Unfold

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "unfold", "fold", "locally_connected2d"]


# ----------------------------------------------------------------------------- argument checks

def _check_operands(fn, input, weight, bias, n, weight_layout):
    """Types, ranks and dtypes of input/weight/bias; returns whether the input is batched."""
    check_tensor(input, "input", fn)
    check_tensor(weight, "weight", fn)
    if bias is not None:
        check_tensor(bias, "bias", fn)
    x_shape, w_shape = input._data.shape, weight._data.shape
    if len(x_shape) not in (n + 1, n + 2):
        check_ndim(input, (n + 1, n + 2), "input", fn,
                   meaning=f"(unbatched (C, L...) or batched (N, C, L...) with {n} spatial "
                           f"dims)")
    if len(w_shape) != n + 2:
        raise error(fn, f"weight must be {n + 2}-D {weight_layout}, got weight of shape "
                        f"{tuple(weight.shape)}")
    if 0 in x_shape[-n:]:                      # torch: only the batch or channels may be 0
        raise error(fn, f"input must have non-zero spatial sizes, got input of shape "
                        f"{tuple(input.shape)}")
    if 0 in w_shape[2:]:
        raise error(fn, f"kernel sizes must be positive, got weight of shape "
                        f"{tuple(weight.shape)}")
    check_float_tensor(input, "input", fn)
    check_float_tensor(weight, "weight", fn, like=input)
    if bias is not None:
        check_float_tensor(bias, "bias", fn, like=input)
    return len(x_shape) == n + 2


def _check_groups(fn, groups):
    if not is_int(groups):
        raise type_error(fn, f"groups must be a positive int, got groups={_fmt(groups)}")
    if groups < 1:
        raise error(fn, f"groups must be a positive int, got groups={groups}")
    return int(groups)


def _check_channels(fn, x_shape, w_shape, groups, c_in, c_out):
    """Groups divide both channel counts, and the input's channels match the weight."""
    C = x_shape[1]
    if C % groups:
        raise error(fn, f"groups must divide the {C} input channels, got groups={groups}",
                    f"input {x_shape}")
    if c_out % groups:
        raise error(fn, f"groups must divide the {c_out} output channels, got groups={groups}",
                    f"weight {w_shape}")
    if C != c_in:
        raise error(fn, f"input has {C} channels, weight expects {c_in}",
                    f"weight {w_shape}, groups={groups}")


def _check_bias(fn, bias, shape):
    if bias is not None and tuple(bias.shape) != tuple(shape):
        raise error(fn, f"bias must have shape {tuple(shape)}, got bias of shape "
                        f"{tuple(bias.shape)}")


def _padding_pairs(fn, padding, n, kernel, stride, dilation, allow_strings=True):
    """``padding`` (int, tuple, 'same' or 'valid') as ``(lo, hi)`` pairs."""
    if isinstance(padding, str):
        if not allow_strings:
            raise type_error(fn, f"padding must be a non-negative int or a tuple of {n} "
                                 f"non-negative ints, got padding={padding!r}")
        check_choice(padding, ("same", "valid"), "padding", fn)
        if padding == "valid":
            return ((0, 0),) * n
        if any(s != 1 for s in stride):
            raise error(fn, f"padding='same' is not supported for strided convolutions, "
                            f"got stride={stride}")
        return same_pads(kernel, dilation)
    p = ntuple(padding, n, "padding", fn, minimum=0)
    return tuple((v, v) for v in p)


def _check_fits(fn, spatial, kernel, pads, dilation, context, lead=()):
    """The (dilated) kernel fits in the padded input, and the padded input ``lead + padded``
    has a size NumPy can hold (huge paddings are refused here, not by NumPy)."""
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(spatial, pads))
    if any(s > p for s, p in zip(span, padded)):
        raise error(fn, f"kernel size {span} (with dilation) is larger than the padded input "
                        f"{padded}", context)
    check_numel(tuple(lead) + padded, fn, "padded input", context)


# ----------------------------------------------------------------------------- convolution

class _ConvContext:
    """The context of a convolution's error messages, formatted only when one is raised (a
    convolution is called hundreds of times per step; its checks should cost little)."""

    __slots__ = ("shape", "w_shape", "padding")

    def __init__(self, shape, w_shape, padding):
        self.shape, self.w_shape, self.padding = shape, w_shape, padding

    def __str__(self):
        return f"input {self.shape}, weight {self.w_shape}, padding={self.padding!r}"


def _conv(fn, n, input, weight, bias, stride, padding, dilation, groups):
    batched = _check_operands(fn, input, weight, bias, n, "(C_out, C_in/groups, K...)")
    groups = _check_groups(fn, groups)
    stride = ntuple(stride, n, "stride", fn)
    dilation = ntuple(dilation, n, "dilation", fn)
    w_shape = weight._data.shape
    kernel = w_shape[2:]
    pads = _padding_pairs(fn, padding, n, kernel, stride, dilation)
    x = input if batched else input.unsqueeze(0)
    x_shape = x._data.shape
    _check_channels(fn, x_shape, w_shape, groups, w_shape[1] * groups, w_shape[0])
    _check_bias(fn, bias, (w_shape[0],))
    context = _ConvContext(input._data.shape, w_shape, padding)
    _check_fits(fn, x_shape[2:], kernel, pads, dilation, context, x_shape[:2])
    out = conv_out_shape(x_shape[2:], kernel, stride, pads, dilation)
    check_numel((x_shape[0], w_shape[0]) + tuple(out), fn, context=context)
    y = ConvNd.apply(x, weight, bias, stride=stride, pads=pads, dilation=dilation,
                     groups=groups)
    return y if batched else y.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    r"""1-D convolution (cross-correlation, as in torch) over an input of several planes.

    Args:
        input: ``(N, C_in, L)`` or unbatched ``(C_in, L)``.
        weight: ``(C_out, C_in / groups, K)``.
        bias: optional ``(C_out,)``.
        stride: an int or a 1-tuple, > 0.
        padding: an int or 1-tuple >= 0 (zeros on both sides), ``'valid'`` (none) or
            ``'same'`` (output as long as the input; stride 1 only; an odd total padding puts
            the extra zero on the high side, as torch does).
        dilation: spacing between kernel taps, > 0.
        groups: splits the channels into ``groups`` independent convolutions; ``groups ==
            C_in`` is depthwise.

    Shape:
        - Output: ``(N, C_out, L_out)`` with
          ``L_out = floor((L + lo + hi - dilation * (K - 1) - 1) / stride) + 1``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([[[0., 1., 2., 3., 4.]]])
        >>> F.conv1d(x, svertka.ones(1, 1, 3), padding=1)
        tensor([[[1., 3., 6., 9., 7.]]])
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    r"""2-D convolution (cross-correlation, as in torch) over an input of several planes.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in / groups, K1, K2)``.
        bias: optional ``(C_out,)``.
        stride: an int or a 2-tuple, > 0.
        padding: an int or 2-tuple >= 0 (zeros on both sides), ``'valid'`` or ``'same'``
            (stride 1 only; odd total padding puts the extra zero high, as torch does).
        dilation: an int or a 2-tuple, > 0.
        groups: number of blocked connections from input to output channels.

    Shape:
        - Output: ``(N, C_out, H_out, W_out)`` with, per axis,
          ``out = floor((in + lo + hi - dilation * (K - 1) - 1) / stride) + 1``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.randn(8, 3, 32, 32)
        >>> w = svertka.randn(10, 3, 5, 5)
        >>> F.conv2d(x, w, svertka.zeros(10), stride=1, padding=2).shape
        svertka.Size([8, 10, 32, 32])
        >>> F.conv2d(x, svertka.randn(3, 1, 3, 3), groups=3, stride=2).shape
        svertka.Size([8, 3, 15, 15])
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    r"""3-D convolution (cross-correlation, as in torch) over an input of several planes.

    Args:
        input: ``(N, C_in, D, H, W)`` or unbatched ``(C_in, D, H, W)``.
        weight: ``(C_out, C_in / groups, K1, K2, K3)``.
        bias: optional ``(C_out,)``.
        stride, dilation: an int or a 3-tuple, > 0.
        padding: an int or 3-tuple >= 0, ``'valid'`` or ``'same'`` (stride 1 only).
        groups: number of blocked connections from input to output channels.

    Shape:
        - Output: ``(N, C_out, D_out, H_out, W_out)``, per axis
          ``out = floor((in + lo + hi - dilation * (K - 1) - 1) / stride) + 1``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.conv3d(svertka.randn(2, 4, 5, 6, 7), svertka.randn(8, 4, 3, 3, 3)).shape
        svertka.Size([2, 8, 3, 4, 5])
    """
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


# ----------------------------------------------------------------------------- transposed

def _conv_transpose(fn, n, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    batched = _check_operands(fn, input, weight, bias, n, "(C_in, C_out/groups, K...)")
    groups = _check_groups(fn, groups)
    stride = ntuple(stride, n, "stride", fn)
    dilation = ntuple(dilation, n, "dilation", fn)
    kernel = tuple(weight.shape[2:])
    pads = _padding_pairs(fn, padding, n, kernel, stride, dilation, allow_strings=False)
    output_padding = ntuple(output_padding, n, "output_padding", fn, minimum=0)
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise error(fn, f"output_padding must be smaller than either stride or dilation, got "
                        f"output_padding={output_padding}", f"stride={stride}, "
                        f"dilation={dilation}")
    x = input if batched else input.unsqueeze(0)
    w_shape = tuple(weight.shape)
    c_out = weight.shape[1] * groups
    _check_channels(fn, tuple(x.shape), w_shape, groups, weight.shape[0], weight.shape[0])
    _check_bias(fn, bias, (c_out,))
    out = tuple((i - 1) * s - lo - hi + d * (k - 1) + op + 1
                for i, s, (lo, hi), d, k, op in zip(x.shape[2:], stride, pads, dilation,
                                                     kernel, output_padding))
    if any(o < 1 for o in out):
        raise error(fn, f"output size {out} is too small, it must be positive",
                    f"input {tuple(input.shape)}, weight {w_shape}, stride={stride}, "
                    f"padding={padding!r}, dilation={dilation}")
    context = f"input {tuple(input.shape)}, weight {w_shape}, stride={stride}"
    check_numel((x.shape[0], c_out) + out, fn, context=context)
    # What the kernels may touch: the stride-dilated input with a full kernel span each side
    # (huge dilations and paddings can cancel in ``out`` but not there).
    check_numel(tuple(x.shape[:2]) + tuple((i - 1) * s + 1 + 2 * d * (k - 1) for i, s, d, k in
                                           zip(x.shape[2:], stride, dilation, kernel)),
                fn, "dilated input", context)
    y = ConvTransposeNd.apply(x, weight, bias, stride=stride, pads=pads, dilation=dilation,
                              groups=groups, out=out)
    return y if batched else y.squeeze(0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    r"""1-D transposed convolution ("deconvolution"): the adjoint of ``conv1d``.

    Args:
        input: ``(N, C_in, L)`` or unbatched ``(C_in, L)``.
        weight: ``(C_in, C_out / groups, K)``.
        bias: optional ``(C_out,)``.
        stride, dilation: an int or a 1-tuple, > 0.
        padding: ``dilation * (K - 1) - padding`` zeros are added to both sides of the input
            (an int or 1-tuple >= 0).
        output_padding: extra size added to the high side of the output; smaller than
            either stride or dilation.
        groups: number of blocked connections from input to output channels.

    Shape:
        - Output: ``(N, C_out, L_out)`` with
          ``L_out = (L - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.conv_transpose1d(svertka.ones(1, 1, 3), svertka.ones(1, 1, 2), stride=2)
        tensor([[[1., 1., 1., 1., 1., 1.]]])
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    r"""2-D transposed convolution ("deconvolution"): the adjoint of ``conv2d``.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_in, C_out / groups, K1, K2)``.
        bias: optional ``(C_out,)``.
        stride, dilation: an int or a 2-tuple, > 0.
        padding: an int or 2-tuple >= 0, removed from both sides of the output.
        output_padding: extra size on the high side of the output; smaller than either
            stride or dilation (per axis).
        groups: number of blocked connections from input to output channels.

    Shape:
        - Output: ``(N, C_out, H_out, W_out)``, per axis
          ``out = (in - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.randn(4, 16, 8, 8)
        >>> F.conv_transpose2d(x, svertka.randn(16, 3, 4, 4), stride=2, padding=1).shape
        svertka.Size([4, 3, 16, 16])
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    r"""3-D transposed convolution ("deconvolution"): the adjoint of ``conv3d``.

    Args:
        input: ``(N, C_in, D, H, W)`` or unbatched ``(C_in, D, H, W)``.
        weight: ``(C_in, C_out / groups, K1, K2, K3)``.
        bias: optional ``(C_out,)``.
        stride, dilation: an int or a 3-tuple, > 0.
        padding: an int or 3-tuple >= 0, removed from both sides of the output.
        output_padding: extra size on the high side of the output; smaller than either
            stride or dilation (per axis).
        groups: number of blocked connections from input to output channels.

    Shape:
        - Output: ``(N, C_out, D_out, H_out, W_out)``, per axis
          ``out = (in - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.randn(2, 4, 3, 3, 3)
        >>> F.conv_transpose3d(x, svertka.randn(4, 2, 2, 2, 2), stride=2).shape
        svertka.Size([2, 2, 6, 6, 6])
    """
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


# ----------------------------------------------------------------------------- unfold / fold

def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    r"""Extract sliding local blocks (im2col), in torch's layout.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        kernel_size: the size of the blocks, an int or a 2-tuple.
        dilation, stride: an int or a 2-tuple, > 0.
        padding: zeros added on both sides, an int or a 2-tuple >= 0.

    Shape:
        - Output: ``(N, C * K1 * K2, L)``, ``L`` the number of blocks,
          ``prod(floor((in + 2 * padding - dilation * (K - 1) - 1) / stride) + 1)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.arange(9.).reshape(1, 1, 3, 3)
        >>> F.unfold(x, kernel_size=2)
        tensor([[[0., 1., 3., 4.],
                 [1., 2., 4., 5.],
                 [3., 4., 6., 7.],
                 [4., 5., 7., 8.]]])
    """
    fn = "unfold"
    check_tensor(input, "input", fn)
    check_ndim(input, (3, 4), "input", fn, meaning="(unbatched (C, H, W) or batched "
                                                   "(N, C, H, W))")
    check_float_tensor(input, "input", fn)
    if 0 in input.shape[-3:]:
        raise error(fn, f"input must have non-zero channel and spatial sizes (only the batch "
                        f"may be empty), got input of shape {tuple(input.shape)}")
    kernel = ntuple(kernel_size, 2, "kernel_size", fn)
    dilation = ntuple(dilation, 2, "dilation", fn)
    pads = _padding_pairs(fn, padding, 2, kernel, (1, 1), dilation, allow_strings=False)
    stride = ntuple(stride, 2, "stride", fn)
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    context = f"input {tuple(input.shape)}, kernel_size={kernel}, padding={padding!r}"
    _check_fits(fn, tuple(x.shape[2:]), kernel, pads, dilation, context, x.shape[:2])
    blocks = math.prod(conv_out_shape(tuple(x.shape[2:]), kernel, stride, pads, dilation))
    check_numel((x.shape[0], x.shape[1] * math.prod(kernel), blocks), fn, context=context)
    y = Unfold.apply(x, kernel=kernel, stride=stride, pads=pads, dilation=dilation)
    return y if batched else y.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    r"""Combine sliding local blocks into a tensor, summing overlaps (col2im).

    The adjoint of ``unfold``: ``fold(unfold(x))`` multiplies each pixel by the number of
    blocks that cover it.

    Args:
        input: ``(N, C * K1 * K2, L)`` or unbatched ``(C * K1 * K2, L)``.
        output_size: the spatial size ``(H, W)`` of the output, an int or a 2-tuple.
        kernel_size: the size of the blocks, an int or a 2-tuple.
        dilation, stride: an int or a 2-tuple, > 0.
        padding: an int or a 2-tuple >= 0, cropped from both sides.

    Shape:
        - Output: ``(N, C, H, W)``; ``L`` must equal the number of blocks of ``unfold``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.fold(svertka.ones(1, 4, 4), output_size=3, kernel_size=2)
        tensor([[[[1., 2., 1.],
                  [2., 4., 2.],
                  [1., 2., 1.]]]])
    """
    fn = "fold"
    check_tensor(input, "input", fn)
    check_ndim(input, (2, 3), "input", fn, meaning="(unbatched (C*K1*K2, L) or batched "
                                                   "(N, C*K1*K2, L))")
    check_float_tensor(input, "input", fn)
    size = ntuple(output_size, 2, "output_size", fn)
    kernel = ntuple(kernel_size, 2, "kernel_size", fn)
    dilation = ntuple(dilation, 2, "dilation", fn)
    pads = _padding_pairs(fn, padding, 2, kernel, (1, 1), dilation, allow_strings=False)
    stride = ntuple(stride, 2, "stride", fn)
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    ck, blocks = x.shape[1], x.shape[2]
    if ck == 0 or blocks == 0:
        raise error(fn, f"input must have non-zero channel and block sizes (only the batch "
                        f"may be empty), got input of shape {tuple(input.shape)}")
    if ck % math.prod(kernel):
        raise error(fn, f"the size of the channel dimension of input ({ck}) must be divisible "
                        f"by prod(kernel_size)={math.prod(kernel)}",
                    f"input {tuple(input.shape)}")
    _check_fits(fn, size, kernel, pads, dilation,
                f"output_size={size}, kernel_size={kernel}, padding={padding!r}",
                (x.shape[0], ck // math.prod(kernel)))
    outs = conv_out_shape(size, kernel, stride, pads, dilation)
    if blocks != math.prod(outs):
        raise error(fn, f"input has {blocks} blocks, but output_size={size} gives "
                        f"{' * '.join(map(str, outs))} = {math.prod(outs)} blocks",
                    f"kernel_size={kernel}, dilation={dilation}, padding={padding!r}, "
                    f"stride={stride}")
    y = Fold.apply(x, output_size=size, kernel=kernel, stride=stride, pads=pads,
                   dilation=dilation)
    return y if batched else y.squeeze(0)


# ----------------------------------------------------------------------------- unshared

def locally_connected2d(input, weight, bias=None, stride=1, padding=0):
    r"""2-D locally connected layer (Keras' ``LocallyConnected2D``): a convolution whose
    weights are not shared across output positions.

    Weight layout (svertka's choice): ``weight[o1, o2]`` is the ordinary conv weight
    ``(C_out, C_in, K1, K2)`` used at output position ``(o1, o2)``, so
    ``y[n, :, o1, o2] = weight[o1, o2] . window(o1, o2) + bias[:, o1, o2]``.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(H_out, W_out, C_out, C_in, K1, K2)``.
        bias: optional ``(C_out, H_out, W_out)`` (one bias per channel and position).
        stride: an int or a 2-tuple, > 0.
        padding: zeros on both sides, an int or a 2-tuple >= 0.

    Shape:
        - Output: ``(N, C_out, H_out, W_out)``, per axis
          ``out = floor((in + 2 * padding - K) / stride) + 1``, which must equal the
          weight's first two sizes.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.randn(2, 3, 6, 6)
        >>> w = svertka.randn(4, 4, 5, 3, 3, 3)   # H_out, W_out, C_out, C_in, K1, K2
        >>> F.locally_connected2d(x, w, svertka.zeros(5, 4, 4)).shape
        svertka.Size([2, 5, 4, 4])
    """
    fn = "locally_connected2d"
    check_tensor(input, "input", fn)
    check_tensor(weight, "weight", fn)
    if bias is not None:
        check_tensor(bias, "bias", fn)
    check_ndim(input, (3, 4), "input", fn, meaning="(unbatched (C, H, W) or batched "
                                                   "(N, C, H, W))")
    if weight.ndim != 6:
        raise error(fn, f"weight must be 6-D (H_out, W_out, C_out, C_in, K1, K2), got weight "
                        f"of shape {tuple(weight.shape)}")
    check_float_tensor(input, "input", fn)
    check_float_tensor(weight, "weight", fn, like=input)
    if bias is not None:
        check_float_tensor(bias, "bias", fn, like=input)
    batched = input.ndim == 4
    stride = ntuple(stride, 2, "stride", fn)
    kernel = tuple(weight.shape[4:])
    pads = _padding_pairs(fn, padding, 2, kernel, stride, (1, 1), allow_strings=False)
    x = input if batched else input.unsqueeze(0)
    w_shape = tuple(weight.shape)
    if x.shape[1] != weight.shape[3]:
        raise error(fn, f"input has {x.shape[1]} channels, weight expects {weight.shape[3]}",
                    f"weight {w_shape}")
    _check_fits(fn, tuple(x.shape[2:]), kernel, pads, (1, 1),
                f"input {tuple(input.shape)}, weight {w_shape}, padding={padding!r}")
    outs = conv_out_shape(tuple(x.shape[2:]), kernel, stride, pads, (1, 1))
    if tuple(weight.shape[:2]) != outs:
        raise error(fn, f"weight is for {tuple(weight.shape[:2])} output positions, but the "
                        f"output is {outs}", f"input {tuple(input.shape)}, weight {w_shape}, "
                                             f"stride={stride}, padding={padding!r}")
    _check_bias(fn, bias, (weight.shape[2],) + outs)
    y = LocallyConnectedNd.apply(x, weight, bias, stride=stride, pads=pads)
    return y if batched else y.squeeze(0)
