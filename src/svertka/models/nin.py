"""Network in Network (Lin, Chen and Yan 2013) for 32x32 images."""

from __future__ import annotations

from svertka import nn
from svertka.models.registry import register


def _mlpconv(in_channels, widths, kernel_size, padding):
    """An "mlpconv" layer: a ``kernel_size`` convolution followed by two 1x1 convolutions
    (the micro network shared over positions), each with ReLU."""
    a, b, c = widths
    return [nn.Conv2d(in_channels, a, kernel_size, padding=padding), nn.ReLU(),
            nn.Conv2d(a, b, 1), nn.ReLU(), nn.Conv2d(b, c, 1), nn.ReLU()]


class NiN(nn.Module):
    """Network in Network: three mlpconv layers (192-160-96 with 5x5, 192-192-192 with 5x5,
    192-192-classes with 3x3), 3x3/2 pooling and dropout 0.5 between them, and global average
    pooling of the last one's class maps as the output (no fully connected layer).

    Follows Lin, Chen and Yan, "Network In Network" (2013), the CIFAR-10 model of the authors'
    released configuration (max pooling after the first mlpconv, average pooling after the
    second). Departures: the last ReLU before the global pooling is kept as in that
    configuration, the convolutions use PyTorch's default initialisation (the paper used
    Gaussian with std 0.05 and per-layer learning rates), and pooling uses floor rounding
    (Caffe's ceil gives 16x16 and 8x8 maps instead of 15x15 and 7x7).

    Args:
        num_classes: outputs (channels of the last mlpconv). Default: 10.
        in_channels: input channels. Default: 3.
        dropout: dropout probability between the mlpconv layers. Default: 0.5.

    Shape:
        - Input: :math:`(N, C_{in}, 32, 32)` (any ``H, W >= 7``).
        - Output: :math:`(N, \\text{num\\_classes})`.
    """

    def __init__(self, num_classes=10, in_channels=3, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            *_mlpconv(in_channels, (192, 160, 96), 5, 2),
            nn.MaxPool2d(3, stride=2), nn.Dropout(dropout),
            *_mlpconv(96, (192, 192, 192), 5, 2),
            nn.AvgPool2d(3, stride=2), nn.Dropout(dropout),
            *_mlpconv(192, (192, 192, num_classes), 3, 1))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x):
        return self.avgpool(self.features(x)).flatten(1)


@register("nin", (3, 32, 32), "Network in Network (Lin et al. 2013), CIFAR-10 model, 0.97M params")
def nin(num_classes=10, in_channels=3, dropout=0.5):
    """Network in Network; see :class:`NiN`.

    >>> import svertka
    >>> from svertka.models import nin
    >>> nin()(svertka.zeros(2, 3, 32, 32)).shape
    svertka.Size([2, 10])
    """
    return NiN(num_classes, in_channels, dropout)
