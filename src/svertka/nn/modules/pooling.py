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
    _rank = 1


class MaxPool2d(_MaxPoolNd):
    """Max over ``kernel_size`` windows, as ``torch.nn.MaxPool2d`` (stride defaults to the
    kernel size).

    Shape:
        ``H_out = floor((H + 2p - d(k-1) - 1) / s) + 1`` (ceil with ``ceil_mode``).

    Examples::

        >>> import svertka
        >>> svertka.nn.MaxPool2d(kernel_size=(2, 2))(svertka.randn(4, 32, 32, 32)).shape
        svertka.Size([4, 32, 16, 16])
    """

    _rank = 2


class MaxPool3d(_MaxPoolNd):
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
    _rank = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    _rank = 2


class AvgPool3d(_AvgPoolNd):
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
    _rank = 1

    def __init__(self, output_size):
        super().__init__(output_size)


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """Average pooling to a fixed ``output_size``; ``AdaptiveAvgPool2d(1)`` is global average
    pooling."""

    _rank = 2


class AdaptiveAvgPool3d(AdaptiveAvgPool1d):
    _rank = 3


class AdaptiveMaxPool1d(_AdaptivePool):
    _rank = 1
    _kind = "max"


class AdaptiveMaxPool2d(AdaptiveMaxPool1d):
    _rank = 2


class AdaptiveMaxPool3d(AdaptiveMaxPool1d):
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
    _rank = 1


class LPPool2d(_LPPool):
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
    _rank = 1


class MaxUnpool2d(_MaxUnpool):
    _rank = 2


class MaxUnpool3d(_MaxUnpool):
    _rank = 3
