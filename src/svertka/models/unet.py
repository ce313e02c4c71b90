"""U-Net (Ronneberger, Fischer and Brox 2015) for segmentation."""

from __future__ import annotations

import svertka
from svertka import nn
from svertka.models.registry import register
from svertka.nn import functional as F


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions, each followed by [batch norm and] ReLU."""

    def __init__(self, in_channels, out_channels, padding=True, batch_norm=False):
        p = 1 if padding else 0
        layers = []
        for c in (in_channels, out_channels):
            layers.append(nn.Conv2d(c, out_channels, 3, padding=p, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU())
        super().__init__(*layers)


class Up(nn.Module):
    """Decoder step: upsample x2 halving the channels, join with the skip connection (cropped
    to size, or the upsampled map zero-padded to the skip's size), two 3x3 convolutions."""

    def __init__(self, in_channels, out_channels, upsample="transpose", padding=True,
                 batch_norm=False):
        super().__init__()
        self.padding = padding
        if upsample == "transpose":
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        else:
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(in_channels, in_channels // 2, kernel_size=1))
        self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)

    def forward(self, x, skip):
        x = self.up(x)
        h, w = x.shape[-2:]
        hs, ws = skip.shape[-2:]
        if (h, w) != (hs, ws):
            if self.padding:   # odd sizes: the pooled map lost a row; pad it back
                dh, dw = hs - h, ws - w
                x = F.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))
            else:              # the paper's crop of the skip connection to the centre
                top, left = (hs - h) // 2, (ws - w) // 2
                skip = skip[:, :, top:top + h, left:left + w]
        return self.conv(svertka.cat([skip, x], 1))


class UNet(nn.Module):
    """U-Net: a contracting path of ``depth`` steps (two 3x3 convolutions, 2x2 max pooling,
    channels doubling from ``base``), a bottleneck, an expanding path (x2 upsampling halving the
    channels, concatenation with the matching contracting map, two 3x3 convolutions) and a 1x1
    convolution to ``num_classes`` score maps.

    Follows Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
    Segmentation" (2015): ``base=64, depth=4, upsample='transpose', padding=False`` is the
    paper's network (572x572 input, 388x388 output, skip connections cropped). Departures:
    ``padding=True`` (default) pads the convolutions so the output has the input's size (inputs
    of any size; odd sizes are padded back in the decoder); ``upsample='bilinear'`` replaces the
    2x2 up-convolution with bilinear upsampling and a 1x1 convolution; ``batch_norm=True`` adds
    batch norm after each 3x3 convolution (not in the paper). Default (PyTorch) initialisation.

    Args:
        in_channels: input channels. Default: 1.
        num_classes: output score maps. Default: 2.
        base: channels of the first level (doubled at each step down). Default: 64.
        depth: the number of poolings. Default: 4.
        upsample: ``'transpose'`` (2x2 up-convolution) or ``'bilinear'``. Default:
            ``'transpose'``.
        padding: pad the 3x3 convolutions (same-size output). Default: True.
        batch_norm: batch norm after each 3x3 convolution. Default: False.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`.
        - Output: :math:`(N, \\text{num\\_classes}, H, W)` with ``padding=True``; smaller by
          the valid convolutions' borders otherwise.
    """

    def __init__(self, in_channels=1, num_classes=2, base=64, depth=4, upsample="transpose",
                 padding=True, batch_norm=False):
        super().__init__()
        if upsample not in ("transpose", "bilinear"):
            raise ValueError(f"unet: upsample must be 'transpose' or 'bilinear', got "
                             f"upsample={upsample!r}")
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"unet: depth must be a positive int, got depth={depth!r}")
        if not isinstance(base, int) or base < 1:
            raise ValueError(f"unet: base must be a positive int, got base={base!r}")
        self.depth = depth
        widths = [base * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        c = in_channels
        for w in widths[:-1]:
            self.down.append(DoubleConv(c, w, padding, batch_norm))
            c = w
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = DoubleConv(widths[-2], widths[-1], padding, batch_norm)
        self.up = nn.ModuleList(
            Up(widths[i + 1], widths[i], upsample, padding, batch_norm)
            for i in reversed(range(depth)))
        self.head = nn.Conv2d(base, num_classes, kernel_size=1)

    def forward(self, x):
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for block, skip in zip(self.up, reversed(skips)):
            x = block(x, skip)
        return self.head(x)


@register("unet", (1, 64, 64), "U-Net (Ronneberger et al. 2015), same-size segmentation maps")
def unet(in_channels=1, num_classes=2, base=64, depth=4, upsample="transpose", padding=True,
         batch_norm=False):
    """U-Net; see :class:`UNet`.

    >>> import svertka
    >>> from svertka.models import unet
    >>> unet(3, 5, base=4, depth=2)(svertka.zeros(1, 3, 16, 16)).shape
    svertka.Size([1, 5, 16, 16])
    """
    return UNet(in_channels, num_classes, base, depth, upsample, padding, batch_norm)
