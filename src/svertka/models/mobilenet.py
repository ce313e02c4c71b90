"""MobileNet v1 (Howard et al. 2017) and MobileNetV2 (Sandler et al. 2018, torchvision
layout)."""

from __future__ import annotations

from svertka import nn
from svertka.models.registry import register


def _make_divisible(v, divisor=8, min_value=None):
    """Round ``v`` to the nearest multiple of ``divisor`` (at least ``min_value``), never more
    than 10% below ``v`` (the rule of the TensorFlow and torchvision MobileNets)."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class Conv2dNormActivation(nn.Sequential):
    """``Conv2d`` ("same" padding, no bias) -> ``BatchNorm2d`` -> activation, as torchvision's
    ``ops.Conv2dNormActivation`` (children ``0``, ``1``, ``2``)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, groups=1,
                 activation_layer=nn.ReLU6):
        padding = (kernel_size - 1) // 2
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                            groups=groups, bias=False), nn.BatchNorm2d(out_channels)]
        if activation_layer is not None:
            layers.append(activation_layer())
        super().__init__(*layers)
        self.out_channels = out_channels


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expansion (unless ``expand_ratio == 1``), 3x3 depthwise, linear
    1x1 projection; a residual connection when the shape is kept."""

    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got stride={stride}")
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1))
        layers += [Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride,
                                        groups=hidden_dim),
                   nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2: a 3x3/2 stem to 32 channels, 17 inverted residual blocks, a 1x1 convolution
    to 1280 channels, global average pooling, dropout and a linear layer.

    Follows Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (2018) as
    torchvision builds it (ReLU6, channels rounded to multiples of 8 by ``width_mult``, the last
    1280 kept for ``width_mult <= 1``). Initialisation as torchvision's: convolutions
    ``kaiming_normal_(mode='fan_out')``, batch norms 1 and 0, linear ``normal_(0, 0.01)`` with
    zero bias. 3,504,872 parameters for 1000 classes.

    Args:
        num_classes: outputs. Default: 1000.
        width_mult: channel multiplier. Default: 1.0.
        round_nearest: channels are rounded to multiples of this. Default: 8.
        dropout: dropout probability before the classifier. Default: 0.2.
        in_channels: input channels (an addition). Default: 3.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)` (224 in the paper).
        - Output: :math:`(N, \\text{num\\_classes})`.
    """

    # t (expansion), c (channels), n (repeats), s (stride of the first)
    SETTINGS = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
                [6, 160, 3, 2], [6, 320, 1, 1]]

    def __init__(self, num_classes=1000, width_mult=1.0, round_nearest=8, dropout=0.2,
                 in_channels=3):
        super().__init__()
        input_channel = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(in_channels, input_channel, stride=2)]
        for t, c, n, s in self.SETTINGS:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(input_channel, output_channel,
                                                 s if i == 0 else 1, t))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@register("mobilenet_v2", (3, 224, 224), "MobileNetV2 (torchvision layout), 3.5M params")
def mobilenet_v2(num_classes=1000, width_mult=1.0, in_channels=3, dropout=0.2):
    """MobileNetV2; see :class:`MobileNetV2`.

    >>> import svertka
    >>> from svertka.models import mobilenet_v2
    >>> sum(p.numel() for p in mobilenet_v2().parameters())
    3504872
    """
    return MobileNetV2(num_classes, width_mult, 8, dropout, in_channels)


class MobileNetV1(nn.Module):
    """MobileNet (v1): a 3x3/2 convolution to 32 channels, 13 depthwise separable blocks
    (3x3 depthwise + batch norm + ReLU, 1x1 pointwise + batch norm + ReLU), global average
    pooling and a linear layer.

    Follows Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
    Vision Applications" (2017), Table 1, with the width multiplier ``alpha`` (``width_mult``;
    channels ``int(c * width_mult)``, at least 8). Departures: no dropout, and the paper's
    7x7 average pooling is adaptive (any input size). 4,231,976 parameters for 1000 classes at
    ``width_mult=1``. Convolutions use ``kaiming_normal_(mode='fan_out')``.

    Args:
        num_classes: outputs. Default: 1000.
        width_mult: the width multiplier alpha (0.25, 0.5, 0.75, 1 in the paper). Default: 1.0.
        in_channels: input channels. Default: 3.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)` (224 in the paper).
        - Output: :math:`(N, \\text{num\\_classes})`.
    """

    # (output channels, stride) of the depthwise separable blocks
    BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 \
        + [(1024, 2), (1024, 1)]

    def __init__(self, num_classes=1000, width_mult=1.0, in_channels=3):
        super().__init__()
        if not width_mult > 0:
            raise ValueError(f"mobilenet_v1: width_mult must be positive, got "
                             f"width_mult={width_mult}")

        def ch(c):
            return max(8, int(c * width_mult))

        c = ch(32)
        layers = [Conv2dNormActivation(in_channels, c, stride=2, activation_layer=nn.ReLU)]
        for out, stride in self.BLOCKS:
            o = ch(out)
            layers.append(nn.Sequential(
                Conv2dNormActivation(c, c, stride=stride, groups=c, activation_layer=nn.ReLU),
                Conv2dNormActivation(c, o, kernel_size=1, activation_layer=nn.ReLU)))
            c = o
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")

    def forward(self, x):
        return self.fc(self.avgpool(self.features(x)).flatten(1))


@register("mobilenet_v1", (3, 224, 224), "MobileNet v1 (Howard et al. 2017), 4.2M params")
def mobilenet_v1(num_classes=1000, width_mult=1.0, in_channels=3):
    """MobileNet v1 with width multiplier ``width_mult``; see :class:`MobileNetV1`.

    >>> import svertka
    >>> from svertka.models import mobilenet_v1
    >>> sum(p.numel() for p in mobilenet_v1().parameters())
    4231976
    >>> mobilenet_v1(num_classes=10, width_mult=0.25)(svertka.zeros(2, 3, 32, 32)).shape
    svertka.Size([2, 10])
    """
    return MobileNetV1(num_classes, width_mult, in_channels)
