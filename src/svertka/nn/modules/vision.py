"""``Upsample``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d``, ``PixelShuffle``,
``PixelUnshuffle``."""

from __future__ import annotations

from svertka.nn import functional as F
from svertka.nn.modules.module import Module


class Upsample(Module):
    """Resize a 1-D, 2-D or 3-D signal, as ``torch.nn.Upsample`` (see
    ``nn.functional.interpolate``).

    Args:
        size (int or tuple, optional): the output spatial size.
        scale_factor (float or tuple, optional): the multiplier of the spatial size (give one of
            ``size`` and ``scale_factor``).
        mode (str): ``'nearest'`` (default), ``'linear'``, ``'bilinear'`` or ``'trilinear'``.
        align_corners (bool, optional): for the linear modes, map the corner pixels' centres onto
            each other. Default: ``False``.
        recompute_scale_factor (bool, optional): compute the sampling from the output size
            instead of ``scale_factor``.

    Shape:
        - Input: ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        - Output: ``(N, C, ...)`` with ``L_out = floor(L * scale_factor)`` per spatial dimension,
          or ``size``.

    Examples::

        >>> import svertka
        >>> svertka.nn.Upsample(scale_factor=2)(svertka.tensor([[[1., 2.]]]))
        tensor([[[1., 1., 2., 2.]]])
    """

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
    """Sub-pixel upsampling, as ``torch.nn.PixelShuffle``: rearrange ``(N, C r^2, H, W)`` into
    ``(N, C, H r, W r)``.

    Args:
        upscale_factor (int): the factor ``r``.

    Shape:
        - Input: ``(*, C * r**2, H, W)``.
        - Output: ``(*, C, H * r, W * r)``.

    Examples::

        >>> import svertka
        >>> svertka.nn.PixelShuffle(2)(svertka.arange(8.).reshape(1, 4, 1, 2))
        tensor([[[[0., 2., 1., 3.],
                  [4., 6., 5., 7.]]]])
    """

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """The inverse of ``PixelShuffle``, as ``torch.nn.PixelUnshuffle``: rearrange
    ``(N, C, H r, W r)`` into ``(N, C r^2, H, W)``.

    Args:
        downscale_factor (int): the factor ``r``.

    Shape:
        - Input: ``(*, C, H * r, W * r)``.
        - Output: ``(*, C * r**2, H, W)``.

    Examples::

        >>> import svertka
        >>> svertka.nn.PixelUnshuffle(2)(svertka.zeros(1, 1, 2, 4)).shape
        svertka.Size([1, 4, 1, 2])
    """

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"
