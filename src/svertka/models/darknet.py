"""Darknet-19 and a YOLOv2-style detection head (Redmon and Farhadi 2016)."""

from __future__ import annotations

import svertka
from svertka import nn
from svertka.models.registry import register


class ConvBNLeaky(nn.Sequential):
    """Convolution ("same" padding, no bias) -> batch norm -> LeakyReLU(0.1)."""

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                      bias=False),
            nn.BatchNorm2d(out_channels), nn.LeakyReLU(0.1))


def _stage(in_channels, spec):
    """Convolutions from ``spec`` = [(channels, kernel), ...]."""
    layers = []
    c = in_channels
    for out, k in spec:
        layers.append(ConvBNLeaky(c, out, k))
        c = out
    return layers


class Darknet19(nn.Module):
    """Darknet-19: 19 convolutions (3x3, with 1x1 bottlenecks in between) and five 2x2 max
    poolings, then a 1x1 convolution to the classes and global average pooling.

    Follows Redmon and Farhadi, "YOLO9000: Better, Faster, Stronger" (2016), Table 6. Each
    convolution has batch norm and LeakyReLU(0.1). ``stem`` ends at the 512-channel stride-16
    map (the YOLOv2 passthrough source), ``deep`` is the last pooling and the 1024-channel
    stage. The softmax is left to the loss. Default (PyTorch) initialisation.

    Args:
        num_classes: outputs. Default: 1000.
        in_channels: input channels. Default: 3.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)` (224 in the paper).
        - Output: :math:`(N, \\text{num\\_classes})`.
    """

    def __init__(self, num_classes=1000, in_channels=3):
        super().__init__()
        pool = nn.MaxPool2d(2, 2)
        self.stem = nn.Sequential(
            *_stage(in_channels, [(32, 3)]), pool,
            *_stage(32, [(64, 3)]), nn.MaxPool2d(2, 2),
            *_stage(64, [(128, 3), (64, 1), (128, 3)]), nn.MaxPool2d(2, 2),
            *_stage(128, [(256, 3), (128, 1), (256, 3)]), nn.MaxPool2d(2, 2),
            *_stage(256, [(512, 3), (256, 1), (512, 3), (256, 1), (512, 3)]))
        self.deep = nn.Sequential(
            nn.MaxPool2d(2, 2),
            *_stage(512, [(1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3)]))
        self.classifier = nn.Sequential(nn.Conv2d(1024, num_classes, 1),
                                        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())

    def forward(self, x):
        return self.classifier(self.deep(self.stem(x)))


@register("darknet19", (3, 224, 224), "Darknet-19 (YOLO9000 classifier backbone), 20.8M params")
def darknet19(num_classes=1000, in_channels=3):
    """Darknet-19; see :class:`Darknet19`.

    >>> import svertka
    >>> from svertka.models import darknet19
    >>> darknet19(num_classes=10)(svertka.zeros(2, 3, 32, 32)).shape
    svertka.Size([2, 10])
    """
    return Darknet19(num_classes, in_channels)


class YOLOv2(nn.Module):
    """A YOLOv2-style single-shot detector: the Darknet-19 backbone without its classifier,
    two 3x3 1024-channel convolutions, a passthrough from the stride-16 map (1x1 convolution to
    64 channels, then space-to-depth 2x2 to 256 channels at stride 32) concatenated to them, a
    3x3 1024-channel convolution and a 1x1 convolution to ``num_anchors * (5 + num_classes)``
    channels: per cell and anchor, ``(t_x, t_y, t_w, t_h, t_o)`` and the class scores.

    Follows Redmon and Farhadi, "YOLO9000" (2016), sec. 2 (416x416 input, 13x13 grid, 5
    anchors). Departures: the space-to-depth is ``pixel_unshuffle`` (channel order ``c*4 +
    dy*2 + dx``; Darknet's ``reorg`` orders them differently, so Darknet weights of the
    layers after it need a permutation); decoding boxes, anchors and the loss are left to the
    user.

    Args:
        num_classes: object classes C. Default: 20 (PASCAL VOC).
        num_anchors: anchor boxes per cell A. Default: 5.
        in_channels: input channels. Default: 3.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`, ``H, W`` multiples of 32.
        - Output: :math:`(N, A (5 + C), H / 32, W / 32)`.
    """

    def __init__(self, num_classes=20, num_anchors=5, in_channels=3):
        super().__init__()
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        backbone = Darknet19(1000, in_channels)
        self.stem = backbone.stem
        self.deep = backbone.deep
        self.head1 = nn.Sequential(*_stage(1024, [(1024, 3), (1024, 3)]))
        self.passthrough = nn.Sequential(ConvBNLeaky(512, 64, 1), nn.PixelUnshuffle(2))
        self.head2 = ConvBNLeaky(1024 + 256, 1024, 3)
        self.pred = nn.Conv2d(1024, num_anchors * (5 + num_classes), 1)

    def forward(self, x):
        fine = self.stem(x)
        x = self.head1(self.deep(fine))
        x = svertka.cat([self.passthrough(fine), x], 1)
        return self.pred(self.head2(x))


@register("yolo_v2", (3, 416, 416), "YOLOv2-style detector on Darknet-19: (N, A*(5+C), S, S)")
def yolo_v2(num_classes=20, num_anchors=5, in_channels=3):
    """YOLOv2-style detection network; see :class:`YOLOv2`.

    >>> import svertka
    >>> from svertka.models import yolo_v2
    >>> yolo_v2(num_classes=3, num_anchors=2)(svertka.zeros(1, 3, 64, 64)).shape
    svertka.Size([1, 16, 2, 2])
    """
    return YOLOv2(num_classes, num_anchors, in_channels)
