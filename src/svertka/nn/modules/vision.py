"""``Upsample``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d``, ``PixelShuffle``,
``PixelUnshuffle``."""

from __future__ import annotations

from svertka.nn import functional as F
from svertka.nn.modules.module import Module


class Upsample(Module):
    """Resize by ``size`` or ``scale_factor`` with ``mode`` 'nearest', 'linear', 'bilinear',
    'trilinear' (``align_corners`` for the linear modes), as ``torch.nn.Upsample``."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) \
            else scale_factor
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = (f"size={self.size}" if self.scale_factor is None
                else f"scale_factor={self.scale_factor}")
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of ``(N, C, H, W)``, as ``torch.nn.UpsamplingNearest2d``:
    ``Upsample(size, scale_factor, mode='nearest')``.

    Args:
        size (int or tuple, optional): the output size ``(H_out, W_out)``.
        scale_factor (float or tuple, optional): the multiplier of ``H`` and ``W``.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H_out, W_out)`` with ``H_out = floor(H * scale_factor)`` or ``size``.

    Examples::

        >>> import svertka
        >>> up = svertka.nn.UpsamplingNearest2d(scale_factor=2)
        >>> up(svertka.tensor([[[[1., 2.]]]]))
        tensor([[[[1., 1., 2., 2.],
                  [1., 1., 2., 2.]]]])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of ``(N, C, H, W)`` with aligned corners, as
    ``torch.nn.UpsamplingBilinear2d``: ``Upsample(size, scale_factor, mode='bilinear',
    align_corners=True)``.

    Args:
        size (int or tuple, optional): the output size ``(H_out, W_out)``.
        scale_factor (float or tuple, optional): the multiplier of ``H`` and ``W``.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H_out, W_out)`` with ``H_out = floor(H * scale_factor)`` or ``size``.

    Examples::

        >>> import svertka
        >>> up = svertka.nn.UpsamplingBilinear2d(size=(1, 3))
        >>> up(svertka.tensor([[[[0., 2.]]]]))
        tensor([[[[0., 1., 2.]]]])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """``(N, C r^2, H, W) -> (N, C, H r, W r)``: sub-pixel upsampling."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """The inverse of PixelShuffle."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"
