"""Pooling layers, thin modules over ``nn.functional``'s pooling."""

from __future__ import annotations

from svertka.nn import functional as F
from svertka.nn.modules.module import Module


class _MaxPoolNd(Module):
    _rank = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return getattr(F, f"max_pool{self._rank}d")(
            input, self.kernel_size, self.stride, self.padding, self.dilation,
            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over ``kernel_size`` windows of a 1-D signal, as ``torch.nn.MaxPool1d``.

    Args:
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the window step. Default: ``kernel_size``.
        padding (int or tuple): implicit ``-inf`` padding on both sides. Default: 0.
        dilation (int or tuple): the spacing between window elements. Default: 1.
        return_indices (bool): also return the flat index of each maximum (for
            ``MaxUnpool1d``). Default: ``False``.
        ceil_mode (bool): round the output size up instead of down. Default: ``False``.

    Shape:
        - Input: ``(N, C, L)`` or ``(C, L)``.
        - Output: ``(N, C, L_out)``, with
          ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
          per spatial dimension (``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> svertka.nn.MaxPool1d(kernel_size=2)(svertka.randn(2, 3, 8)).shape
        svertka.Size([2, 3, 4])
    """

    _rank = 1


class MaxPool2d(_MaxPoolNd):
    """Max over ``kernel_size`` windows of a 2-D signal, as ``torch.nn.MaxPool2d``.

    Args:
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the window step. Default: ``kernel_size``.
        padding (int or tuple): implicit ``-inf`` padding on both sides. Default: 0.
        dilation (int or tuple): the spacing between window elements. Default: 1.
        return_indices (bool): also return the flat index of each maximum (for
            ``MaxUnpool2d``). Default: ``False``.
        ceil_mode (bool): round the output size up instead of down. Default: ``False``.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
        - Output: ``(N, C, H_out, W_out)``, with
          ``H_out = floor((H + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
          (likewise ``W_out``; ``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> svertka.nn.MaxPool2d(kernel_size=(2, 2))(svertka.randn(4, 32, 32, 32)).shape
        svertka.Size([4, 32, 16, 16])
    """

    _rank = 2


class MaxPool3d(_MaxPoolNd):
    """Max over ``kernel_size`` windows of a 3-D signal, as ``torch.nn.MaxPool3d``.

    Args:
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the window step. Default: ``kernel_size``.
        padding (int or tuple): implicit ``-inf`` padding on both sides. Default: 0.
        dilation (int or tuple): the spacing between window elements. Default: 1.
        return_indices (bool): also return the flat index of each maximum (for
            ``MaxUnpool3d``). Default: ``False``.
        ceil_mode (bool): round the output size up instead of down. Default: ``False``.

    Shape:
        - Input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        - Output: ``(N, C, D_out, H_out, W_out)``, with
          ``W_out = floor((W + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
          per spatial dimension (``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> svertka.nn.MaxPool3d(kernel_size=2, stride=2)(svertka.randn(2, 3, 4, 8, 8)).shape
        svertka.Size([2, 3, 2, 4, 4])
    """

    _rank = 3


class _AvgPoolNd(Module):
    _rank = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        fn = getattr(F, f"avg_pool{self._rank}d")
        if self._rank == 1:
            return fn(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                      self.count_include_pad)
        return fn(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                  self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Average over ``kernel_size`` windows of a 1-D signal, as ``torch.nn.AvgPool1d``.

    Args:
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the window step. Default: ``kernel_size``.
        padding (int or tuple): implicit zero padding on both sides. Default: 0.
        ceil_mode (bool): round the output size up instead of down. Default: ``False``.
        count_include_pad (bool): count the padding zeros in the divisor. Default: ``True``.

    Shape:
        - Input: ``(N, C, L)`` or ``(C, L)``.
        - Output: ``(N, C, L_out)``, with
          ``L_out = floor((L + 2 * padding - kernel_size) / stride) + 1`` per spatial
          dimension (``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> svertka.nn.AvgPool1d(kernel_size=3, stride=2, padding=1)(svertka.randn(2, 3, 8)).shape
        svertka.Size([2, 3, 4])
    """

    _rank = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Average over ``kernel_size`` windows of a 2-D signal, as ``torch.nn.AvgPool2d``.

    Args:
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the window step. Default: ``kernel_size``.
        padding (int or tuple): implicit zero padding on both sides. Default: 0.
        ceil_mode (bool): round the output size up instead of down. Default: ``False``.
        count_include_pad (bool): count the padding zeros in the divisor. Default: ``True``.
        divisor_override (int, optional): divide every window sum by it instead.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
        - Output: ``(N, C, H_out, W_out)``, with
          ``W_out = floor((W + 2 * padding - kernel_size) / stride) + 1`` per spatial
          dimension (``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> svertka.nn.AvgPool2d(kernel_size=2)(svertka.randn(4, 3, 32, 32)).shape
        svertka.Size([4, 3, 16, 16])
    """

    _rank = 2


class AvgPool3d(_AvgPoolNd):
    """Average over ``kernel_size`` windows of a 3-D signal, as ``torch.nn.AvgPool3d``.

    Args:
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the window step. Default: ``kernel_size``.
        padding (int or tuple): implicit zero padding on both sides. Default: 0.
        ceil_mode (bool): round the output size up instead of down. Default: ``False``.
        count_include_pad (bool): count the padding zeros in the divisor. Default: ``True``.
        divisor_override (int, optional): divide every window sum by it instead.

    Shape:
        - Input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        - Output: ``(N, C, D_out, H_out, W_out)``, with
          ``W_out = floor((W + 2 * padding - kernel_size) / stride) + 1`` per spatial
          dimension (``ceil`` with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> svertka.nn.AvgPool3d(kernel_size=2)(svertka.randn(2, 3, 4, 8, 8)).shape
        svertka.Size([2, 3, 2, 4, 4])
    """

    _rank = 3


class _AdaptivePool(Module):
    _rank = 2
    _kind = "avg"

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        fn = getattr(F, f"adaptive_{self._kind}_pool{self._rank}d")
        if self._kind == "max":
            return fn(input, self.output_size, self.return_indices)
        return fn(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Average pooling of a 1-D signal to a fixed ``output_size``, as
    ``torch.nn.AdaptiveAvgPool1d``.

    Window ``i`` along a dimension of size ``L`` spans ``floor(i * L / out)`` to
    ``ceil((i + 1) * L / out)`` (exclusive).

    Args:
        output_size (int or tuple): the output size; ``None`` in a tuple keeps that input size.

    Shape:
        - Input: ``(N, C, L)`` or ``(C, L)``.
        - Output: ``(N, C) + output_size``.

    Examples::

        >>> import svertka
        >>> svertka.nn.AdaptiveAvgPool1d(4)(svertka.randn(2, 3, 10)).shape
        svertka.Size([2, 3, 4])
    """

    _rank = 1

    def __init__(self, output_size):
        super().__init__(output_size)


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """Average pooling of a 2-D signal to a fixed ``output_size``, as
    ``torch.nn.AdaptiveAvgPool2d``; ``AdaptiveAvgPool2d(1)`` is global average pooling.

    Window ``i`` along a dimension of size ``L`` spans ``floor(i * L / out)`` to
    ``ceil((i + 1) * L / out)`` (exclusive).

    Args:
        output_size (int or tuple): the output size ``(H_out, W_out)``; ``None`` in a tuple keeps
            that input size.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
        - Output: ``(N, C, H_out, W_out)``.

    Examples::

        >>> import svertka
        >>> svertka.nn.AdaptiveAvgPool2d(1)(svertka.randn(2, 8, 7, 7)).shape
        svertka.Size([2, 8, 1, 1])
        >>> svertka.nn.AdaptiveAvgPool2d((2, 2))(svertka.arange(16.).reshape(1, 1, 4, 4))
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """

    _rank = 2


class AdaptiveAvgPool3d(AdaptiveAvgPool1d):
    """Average pooling of a 3-D signal to a fixed ``output_size``, as
    ``torch.nn.AdaptiveAvgPool3d``.

    Window ``i`` along a dimension of size ``L`` spans ``floor(i * L / out)`` to
    ``ceil((i + 1) * L / out)`` (exclusive).

    Args:
        output_size (int or tuple): the output size; ``None`` in a tuple keeps that input size.

    Shape:
        - Input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        - Output: ``(N, C) + output_size``.

    Examples::

        >>> import svertka
        >>> svertka.nn.AdaptiveAvgPool3d((1, 2, 3))(svertka.randn(2, 3, 5, 6, 7)).shape
        svertka.Size([2, 3, 1, 2, 3])
    """

    _rank = 3


class AdaptiveMaxPool1d(_AdaptivePool):
    """Max pooling of a 1-D signal to a fixed ``output_size``, as ``torch.nn.AdaptiveMaxPool1d``.

    Window ``i`` along a dimension of size ``L`` spans ``floor(i * L / out)`` to
    ``ceil((i + 1) * L / out)`` (exclusive).

    Args:
        output_size (int or tuple): the output size; ``None`` in a tuple keeps that input size.
        return_indices (bool): also return the flat index of each maximum. Default: ``False``.

    Shape:
        - Input: ``(N, C, L)`` or ``(C, L)``.
        - Output: ``(N, C) + output_size``.

    Examples::

        >>> import svertka
        >>> svertka.nn.AdaptiveMaxPool1d(4)(svertka.randn(2, 3, 10)).shape
        svertka.Size([2, 3, 4])
    """

    _rank = 1
    _kind = "max"


class AdaptiveMaxPool2d(AdaptiveMaxPool1d):
    """Max pooling of a 2-D signal to a fixed ``output_size``, as ``torch.nn.AdaptiveMaxPool2d``.

    Window ``i`` along a dimension of size ``L`` spans ``floor(i * L / out)`` to
    ``ceil((i + 1) * L / out)`` (exclusive).

    Args:
        output_size (int or tuple): the output size; ``None`` in a tuple keeps that input size.
        return_indices (bool): also return the flat index of each maximum. Default: ``False``.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
        - Output: ``(N, C) + output_size``.

    Examples::

        >>> import svertka
        >>> svertka.nn.AdaptiveMaxPool2d((3, 3))(svertka.randn(2, 3, 7, 9)).shape
        svertka.Size([2, 3, 3, 3])
    """

    _rank = 2


class AdaptiveMaxPool3d(AdaptiveMaxPool1d):
    """Max pooling of a 3-D signal to a fixed ``output_size``, as ``torch.nn.AdaptiveMaxPool3d``.

    Window ``i`` along a dimension of size ``L`` spans ``floor(i * L / out)`` to
    ``ceil((i + 1) * L / out)`` (exclusive).

    Args:
        output_size (int or tuple): the output size; ``None`` in a tuple keeps that input size.
        return_indices (bool): also return the flat index of each maximum. Default: ``False``.

    Shape:
        - Input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        - Output: ``(N, C) + output_size``.

    Examples::

        >>> import svertka
        >>> svertka.nn.AdaptiveMaxPool3d(2)(svertka.randn(2, 3, 5, 6, 7)).shape
        svertka.Size([2, 3, 2, 2, 2])
    """

    _rank = 3


class _LPPool(Module):
    _rank = 2

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, input):
        return getattr(F, f"lp_pool{self._rank}d")(input, self.norm_type, self.kernel_size,
                                                    self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPool):
    """Power-average pooling ``(sum over the window of x ** p) ** (1 / p)`` of a 1-D signal,
    as ``torch.nn.LPPool1d``.

    Args:
        norm_type (float): the power ``p`` (``inf`` gives max pooling, 1 sum pooling).
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the window step. Default: ``kernel_size``.
        ceil_mode (bool): round the output size up instead of down. Default: ``False``.

    Shape:
        - Input: ``(N, C, L)`` or ``(C, L)``.
        - Output: ``(N, C, ...)`` with ``L_out = floor((L - kernel_size) / stride) + 1`` per
          spatial dimension.

    Examples::

        >>> import svertka
        >>> svertka.nn.LPPool1d(2, kernel_size=2)(svertka.rand(2, 3, 8)).shape
        svertka.Size([2, 3, 4])
    """

    _rank = 1


class LPPool2d(_LPPool):
    """Power-average pooling ``(sum over the window of x ** p) ** (1 / p)`` of a 2-D signal,
    as ``torch.nn.LPPool2d``.

    Args:
        norm_type (float): the power ``p`` (``inf`` gives max pooling, 1 sum pooling).
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the window step. Default: ``kernel_size``.
        ceil_mode (bool): round the output size up instead of down. Default: ``False``.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
        - Output: ``(N, C, ...)`` with ``L_out = floor((L - kernel_size) / stride) + 1`` per
          spatial dimension.

    Examples::

        >>> import svertka
        >>> svertka.nn.LPPool2d(2, kernel_size=2)(svertka.rand(2, 3, 8, 8)).shape
        svertka.Size([2, 3, 4, 4])
    """

    _rank = 2


class _MaxUnpool(Module):
    _rank = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def forward(self, input, indices, output_size=None):
        return getattr(F, f"max_unpool{self._rank}d")(input, indices, self.kernel_size,
                                                       self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """The partial inverse of ``MaxPool1d``: each value goes to the position of its maximum,
    zeros elsewhere, as ``torch.nn.MaxUnpool1d``.

    Args:
        kernel_size (int or tuple): the window size of the max pooling.
        stride (int or tuple, optional): its stride. Default: ``kernel_size``.
        padding (int or tuple): its padding. Default: 0.

    Call it as ``unpool(input, indices, output_size=None)`` with the indices ``MaxPool1d``
    returned; ``output_size`` resolves the sizes that pooling rounded down.

    Shape:
        - Input: ``(N, C, L)``, as the indices.
        - Output: ``(N, C, ...)`` with ``L_out = (L - 1) * stride - 2 * padding + kernel_size``
          per spatial dimension, or ``output_size``.

    Examples::

        >>> import svertka
        >>> from svertka import nn
        >>> y, i = nn.MaxPool1d(2, return_indices=True)(svertka.randn(2, 3, 8))
        >>> nn.MaxUnpool1d(2)(y, i).shape
        svertka.Size([2, 3, 8])
    """

    _rank = 1


class MaxUnpool2d(_MaxUnpool):
    """The partial inverse of ``MaxPool2d``: each value goes to the position of its maximum,
    zeros elsewhere, as ``torch.nn.MaxUnpool2d``.

    Args:
        kernel_size (int or tuple): the window size of the max pooling.
        stride (int or tuple, optional): its stride. Default: ``kernel_size``.
        padding (int or tuple): its padding. Default: 0.

    Call it as ``unpool(input, indices, output_size=None)`` with the indices ``MaxPool2d``
    returned; ``output_size`` resolves the sizes that pooling rounded down.

    Shape:
        - Input: ``(N, C, H, W)``, as the indices.
        - Output: ``(N, C, ...)`` with ``L_out = (L - 1) * stride - 2 * padding + kernel_size``
          per spatial dimension, or ``output_size``.

    Examples::

        >>> import svertka
        >>> from svertka import nn
        >>> y, i = nn.MaxPool2d(2, return_indices=True)(svertka.randn(2, 3, 8, 8))
        >>> nn.MaxUnpool2d(2)(y, i).shape
        svertka.Size([2, 3, 8, 8])
    """

    _rank = 2


class MaxUnpool3d(_MaxUnpool):
    """The partial inverse of ``MaxPool3d``: each value goes to the position of its maximum,
    zeros elsewhere, as ``torch.nn.MaxUnpool3d``.

    Args:
        kernel_size (int or tuple): the window size of the max pooling.
        stride (int or tuple, optional): its stride. Default: ``kernel_size``.
        padding (int or tuple): its padding. Default: 0.

    Call it as ``unpool(input, indices, output_size=None)`` with the indices ``MaxPool3d``
    returned; ``output_size`` resolves the sizes that pooling rounded down.

    Shape:
        - Input: ``(N, C, D, H, W)``, as the indices.
        - Output: ``(N, C, ...)`` with ``L_out = (L - 1) * stride - 2 * padding + kernel_size``
          per spatial dimension, or ``output_size``.

    Examples::

        >>> import svertka
        >>> from svertka import nn
        >>> y, i = nn.MaxPool3d(2, return_indices=True)(svertka.randn(2, 3, 4, 4, 4))
        >>> nn.MaxUnpool3d(2)(y, i).shape
        svertka.Size([2, 3, 4, 4, 4])
    """

    _rank = 3
