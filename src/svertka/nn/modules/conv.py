"""Convolution layers: `Conv1d/2d/3d`, `ConvTranspose1d/2d/3d`, `LocallyConnected2d`.

One base, ``_ConvNd``, holds what all of them share (argument checks, parameters, torch's
default initialisation, ``padding_mode``); the subclasses only name the rank and the function.
"""

from __future__ import annotations

import math

from svertka import _dtype
from svertka import _validate as V
from svertka._creation import empty
from svertka.kernels.conv import same_pads
from svertka.nn import functional as F
from svertka.nn import init
from svertka.nn.modules.module import Module
from svertka.nn.parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _reset_conv_parameters(weight, bias):
    """torch's default: kaiming-uniform(a=sqrt(5)) weights, bias U(+-1/sqrt(fan_in))."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


class _ConvNd(Module):
    _rank = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, output_padding=0):
        super().__init__()
        name = type(self).__name__
        n = self._rank
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels),
                           ("groups", groups)):
            V.check_int(value, arg, name, minimum=1, what="a positive int")
        if in_channels % groups:
            raise V.error(name, f"in_channels must be divisible by groups, got "
                                f"in_channels={in_channels}, groups={groups}")
        if out_channels % groups:
            raise V.error(name, f"out_channels must be divisible by groups, got "
                                f"out_channels={out_channels}, groups={groups}")
        V.check_choice(padding_mode, _PADDING_MODES, "padding_mode", name)
        if device not in (None, "cpu"):
            raise V.error(name, f"only the 'cpu' device is available, got device={device!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = V.ntuple(kernel_size, n, "kernel_size", name)
        self.stride = V.ntuple(stride, n, "stride", name)
        self.dilation = V.ntuple(dilation, n, "dilation", name)
        if isinstance(padding, str):
            V.check_choice(padding, ("same", "valid"), "padding", name)
            if self._transposed:
                raise V.error(name, f"padding must be an int or a tuple of ints for transposed "
                                    f"convolution, got padding={padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise V.error(name, f"padding='same' is not supported for strided "
                                    f"convolutions, got stride={stride!r}")
            self.padding = padding
        else:
            self.padding = V.ntuple(padding, n, "padding", name, minimum=0)
        self.output_padding = V.ntuple(output_padding, n, "output_padding", name, minimum=0)
        V.check_numel((in_channels, out_channels) + self.kernel_size, name, "weight")
        self.groups = groups
        self.padding_mode = padding_mode
        if padding_mode != "zeros" and self._transposed:
            raise V.error(name, f"only 'zeros' padding mode is supported, got "
                                f"padding_mode={padding_mode!r}")
        # F.pad's flat (last axis first) padding for the non-zero padding modes
        if self.padding == "valid":
            pairs = [(0, 0)] * n
        elif self.padding == "same":
            pairs = same_pads(self.kernel_size, self.dilation)
        else:
            pairs = [(p, p) for p in self.padding]
        self._reversed_padding_repeated_twice = tuple(v for lo, hi in reversed(pairs)
                                                      for v in (lo, hi))
        dt = _dtype.to_dtype(dtype) if dtype is not None else None
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(empty(*shape, dtype=dt))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Draw the weight from ``kaiming_uniform_(a=sqrt(5))`` and the bias from
        ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, as torch.
        """
        _reset_conv_parameters(self.weight, self.bias)

    def extra_repr(self):
        n = self._rank
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)

    def _conv_forward(self, input, weight, bias):
        fn = getattr(F, f"conv{self._rank}d")
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return fn(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over ``(N, C_in, L)``, as ``torch.nn.Conv1d``.

    Args:
        in_channels (int): the input channels ``C_in`` (divisible by ``groups``).
        out_channels (int): the output channels ``C_out`` (divisible by ``groups``).
        kernel_size (int or tuple): the kernel size.
        stride (int or tuple): the step of the kernel. Default: 1.
        padding (int, tuple or str): zero padding on both sides, or ``'same'`` / ``'valid'``.
            Default: 0.
        dilation (int or tuple): the spacing between kernel elements. Default: 1.
        groups (int): split the channels into this many independent groups. Default: 1.
        bias (bool): learn an additive bias per output channel. Default: ``True``.
        padding_mode (str): ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
            Default: ``'zeros'``.

    Shape:
        - Input: ``(N, C_in, L)`` or ``(C_in, L)``.
        - Output: ``(N, C_out, L_out)`` with
          ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.

    Examples::

        >>> import svertka
        >>> conv = svertka.nn.Conv1d(4, 8, kernel_size=3, padding=1)
        >>> conv(svertka.randn(2, 4, 16)).shape
        svertka.Size([2, 8, 16])
    """

    _rank = 1


class Conv2d(_Conv):
    """2-D convolution over ``(N, C_in, H, W)``, as ``torch.nn.Conv2d``.

    Args:
        in_channels, out_channels: channel counts (both divisible by ``groups``).
        kernel_size, stride, dilation: int or pair.
        padding: int, pair, ``'same'`` or ``'valid'``.
        groups: ``in_channels`` for a depthwise convolution.
        bias: learn an additive bias per output channel.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.

    Shape:
        input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
        ``H_out = floor((H + 2p - d(k-1) - 1) / s) + 1`` (likewise W).

    Examples::

        >>> import svertka
        >>> conv = svertka.nn.Conv2d(3, 10, kernel_size=5)
        >>> conv.weight.numel() + conv.bias.numel()     # 10 filters of 5x5x3, plus biases
        760
        >>> conv(svertka.randn(2, 3, 32, 32)).shape
        svertka.Size([2, 10, 28, 28])
    """

    _rank = 2


class Conv3d(_Conv):
    """3-D convolution over ``(N, C_in, D, H, W)``, as ``torch.nn.Conv3d``.

    Args:
        in_channels (int): the input channels ``C_in`` (divisible by ``groups``).
        out_channels (int): the output channels ``C_out`` (divisible by ``groups``).
        kernel_size (int or tuple): the kernel size.
        stride (int or tuple): the step of the kernel. Default: 1.
        padding (int, tuple or str): zero padding on both sides, or ``'same'`` / ``'valid'``.
            Default: 0.
        dilation (int or tuple): the spacing between kernel elements. Default: 1.
        groups (int): split the channels into this many independent groups. Default: 1.
        bias (bool): learn an additive bias per output channel. Default: ``True``.
        padding_mode (str): ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
            Default: ``'zeros'``.

    Shape:
        - Input: ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``.
        - Output: ``(N, C_out, D_out, H_out, W_out)`` with
          ``D_out = floor((D + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
          (likewise ``H_out``, ``W_out``).

    Examples::

        >>> import svertka
        >>> conv = svertka.nn.Conv3d(2, 4, kernel_size=3, stride=2)
        >>> conv(svertka.randn(1, 2, 9, 9, 9)).shape
        svertka.Size([1, 4, 4, 4, 4])
    """

    _rank = 3


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype,
                         output_padding=output_padding)

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output ``output_size`` (torch's rule)."""
        if output_size is None:
            return self.output_padding
        n = self._rank
        output_size = list(output_size)[-n:]
        if len(output_size) != n:
            raise V.error(type(self).__name__, f"output_size must have {n} or {n + 2} "
                                               f"elements, got output_size={output_size}")
        result = []
        for d in range(n):
            size = input.shape[input.ndim - n + d]
            smallest = ((size - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            largest = smallest + self.stride[d] - 1
            if not smallest <= output_size[d] <= largest:
                raise V.error(type(self).__name__,
                              f"requested an output size of {output_size}, but valid sizes "
                              f"range from {smallest} to {largest} along spatial dim {d} (for "
                              f"an input of shape {tuple(input.shape)})")
            result.append(output_size[d] - smallest)
        return tuple(result)

    def forward(self, input, output_size=None):
        fn = getattr(F, f"conv_transpose{self._rank}d")
        output_padding = self._output_padding(input, output_size)
        return fn(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                  self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution, as ``torch.nn.ConvTranspose1d``: the gradient of ``Conv1d``
    with respect to its input.

    Args:
        in_channels (int): the input channels ``C_in`` (divisible by ``groups``).
        out_channels (int): the output channels ``C_out`` (divisible by ``groups``).
        kernel_size (int or tuple): the kernel size.
        stride (int or tuple): the step of the kernel over the output. Default: 1.
        padding (int or tuple): ``dilation * (kernel_size - 1) - padding`` zeros padded on both
            sides of the input. Default: 0.
        output_padding (int or tuple): extra size added to one side of the output (smaller than
            ``stride`` or ``dilation``). Default: 0.
        groups (int): split the channels into this many independent groups. Default: 1.
        bias (bool): learn an additive bias per output channel. Default: ``True``.
        dilation (int or tuple): the spacing between kernel elements. Default: 1.

    Call it as ``layer(input, output_size=None)``; ``output_size`` picks ``output_padding``.

    Shape:
        - Input: ``(N, C_in, L)`` or ``(C_in, L)``.
        - Output: ``(N, C_out, L_out)`` with ``L_out = (L - 1) * stride - 2 * padding +
          dilation * (kernel_size - 1) + output_padding + 1``.

    Examples::

        >>> import svertka
        >>> up = svertka.nn.ConvTranspose1d(4, 2, kernel_size=2, stride=2)
        >>> up(svertka.randn(1, 4, 5)).shape
        svertka.Size([1, 2, 10])
    """

    _rank = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution, as ``torch.nn.ConvTranspose2d``.

    Shape:
        output ``H_out = (H - 1)s - 2p + d(k-1) + output_padding + 1`` (likewise W).

    Examples::

        >>> import svertka
        >>> up = svertka.nn.ConvTranspose2d(8, 4, kernel_size=2, stride=2)
        >>> up(svertka.randn(1, 8, 5, 5)).shape
        svertka.Size([1, 4, 10, 10])
    """

    _rank = 2


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution, as ``torch.nn.ConvTranspose3d``: the gradient of ``Conv3d``
    with respect to its input.

    Args:
        in_channels (int): the input channels ``C_in`` (divisible by ``groups``).
        out_channels (int): the output channels ``C_out`` (divisible by ``groups``).
        kernel_size (int or tuple): the kernel size.
        stride (int or tuple): the step of the kernel over the output. Default: 1.
        padding (int or tuple): ``dilation * (kernel_size - 1) - padding`` zeros padded on both
            sides of the input. Default: 0.
        output_padding (int or tuple): extra size added to one side of the output (smaller than
            ``stride`` or ``dilation``). Default: 0.
        groups (int): split the channels into this many independent groups. Default: 1.
        bias (bool): learn an additive bias per output channel. Default: ``True``.
        dilation (int or tuple): the spacing between kernel elements. Default: 1.

    Call it as ``layer(input, output_size=None)``; ``output_size`` picks ``output_padding``.

    Shape:
        - Input: ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``.
        - Output: ``(N, C_out, D_out, H_out, W_out)`` with ``D_out = (D - 1) * stride -
          2 * padding + dilation * (kernel_size - 1) + output_padding + 1`` (likewise H, W).

    Examples::

        >>> import svertka
        >>> up = svertka.nn.ConvTranspose3d(4, 2, kernel_size=2, stride=2)
        >>> up(svertka.randn(1, 4, 2, 3, 3)).shape
        svertka.Size([1, 2, 4, 6, 6])
    """

    _rank = 3


class LocallyConnected2d(Module):
    """A 2-D convolution whose weights are not shared across positions (Keras'
    ``LocallyConnected2D``; torch has no such layer).

    Each output position has its own filters, so the layer must know the input's spatial size.

    Args:
        in_channels, out_channels: channel counts.
        input_size: ``(H, W)`` of the inputs (an int for square inputs).
        kernel_size, stride, padding: as for ``Conv2d`` (zero padding).
        bias: one bias per output channel and position.

    Shape:
        input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with the Conv2d formula;
        weight ``(H_out, W_out, C_out, C_in, K1, K2)``, bias ``(C_out, H_out, W_out)``;
        initialised like a Conv2d with the same fan-in.

    Examples::

        >>> import svertka
        >>> lc = svertka.nn.LocallyConnected2d(3, 8, input_size=10, kernel_size=3)
        >>> lc.weight.shape, lc(svertka.randn(2, 3, 10, 10)).shape
        (svertka.Size([8, 8, 8, 3, 3, 3]), svertka.Size([2, 8, 8, 8]))
    """

    def __init__(self, in_channels, out_channels, input_size, kernel_size, stride=1, padding=0,
                 bias=True, device=None, dtype=None):
        super().__init__()
        name = "LocallyConnected2d"
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            V.check_int(value, arg, name, minimum=1, what="a positive int")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.input_size = V.ntuple(input_size, 2, "input_size", name)
        self.kernel_size = V.ntuple(kernel_size, 2, "kernel_size", name)
        self.stride = V.ntuple(stride, 2, "stride", name)
        self.padding = V.ntuple(padding, 2, "padding", name, minimum=0)
        out = tuple((i + 2 * p - k) // s + 1 for i, k, s, p in
                    zip(self.input_size, self.kernel_size, self.stride, self.padding))
        if min(out) < 1:
            padded = tuple(i + 2 * p for i, p in zip(self.input_size, self.padding))
            raise V.error(name, f"kernel_size {self.kernel_size} is larger than the padded "
                                f"input {padded}")
        self.output_size = out
        V.check_numel(out + (out_channels, in_channels) + self.kernel_size, name, "weight")
        dt = _dtype.to_dtype(dtype) if dtype is not None else None
        self.weight = Parameter(empty(*out, out_channels, in_channels, *self.kernel_size,
                                      dtype=dt))
        if bias:
            self.bias = Parameter(empty(out_channels, *out, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Draw weight and bias from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, with
        ``fan_in = in_channels * kH * kW``.
        """
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) of a conv with this fan-in
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.locally_connected2d(input, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, input_size={self.input_size}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bias={self.bias is not None}")
