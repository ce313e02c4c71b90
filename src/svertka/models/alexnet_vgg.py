"""AlexNet (Krizhevsky et al. 2012) and VGG (Simonyan and Zisserman 2014), torchvision layout.

Module names and parameter shapes are torchvision's, so a torchvision state_dict (as NumPy
arrays) loads with ``strict=True``.
"""

from __future__ import annotations

from svertka import nn
from svertka.models.registry import register


class AlexNet(nn.Module):
    """AlexNet: five convolutions (11x11/4, 5x5, three 3x3) with max pooling, adaptive average
    pooling to 6x6, and three linear layers with dropout.

    Follows Krizhevsky, Sutskever and Hinton, "ImageNet Classification with Deep Convolutional
    Neural Networks" (2012) as torchvision builds it, which is the one-GPU variant of
    Krizhevsky's "One weird trick" (2014): 64/192/384/256/256 channels, no local response
    normalisation and no grouped convolutions; an adaptive average pooling lets other input
    sizes through. Default (PyTorch) initialisation. 61,100,840 parameters for 1000 classes.

    Args:
        num_classes: outputs. Default: 1000.
        dropout: dropout probability of the classifier. Default: 0.5.
        in_channels: input channels (an addition). Default: 3.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)` with ``H, W >= 63`` (224 in the paper).
        - Output: :math:`(N, \\text{num\\_classes})`.
    """

    def __init__(self, num_classes=1000, dropout=0.5, in_channels=3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@register("alexnet", (3, 224, 224), "AlexNet (torchvision's one-GPU layout), 61.1M params")
def alexnet(num_classes=1000, dropout=0.5, in_channels=3):
    """AlexNet; see :class:`AlexNet`.

    >>> import svertka
    >>> from svertka.models import alexnet
    >>> alexnet(num_classes=10)(svertka.zeros(1, 3, 63, 63)).shape
    svertka.Size([1, 10])
    """
    return AlexNet(num_classes, dropout, in_channels)


# channels per 3x3 convolution, "M" a 2x2 max pooling (the paper's configurations A, B, D, E)
CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_vgg_layers(cfg, batch_norm=False, in_channels=3):
    """The convolutional part of a VGG: ``Conv2d(3x3, padding 1) [+ BatchNorm2d] + ReLU`` per
    number in ``cfg``, ``MaxPool2d(2, 2)`` per ``"M"``."""
    layers = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(c, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU())
        c = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG: stacks of 3x3 convolutions and 2x2 max pooling, adaptive average pooling to 7x7,
    and three linear layers (4096, 4096, classes) with dropout.

    Follows Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
    Recognition" (2014), configurations A (VGG-11), B (13), D (16) and E (19), as torchvision
    builds them; the ``_bn`` variants (batch norm after each convolution) are torchvision's
    addition, as is the adaptive pooling. Initialisation as torchvision's: convolutions
    ``kaiming_normal_(mode='fan_out', nonlinearity='relu')`` with zero bias, batch norms 1 and
    0, linear layers ``normal_(0, 0.01)`` with zero bias.

    Args:
        features: the convolutional part (``make_vgg_layers``).
        num_classes: outputs. Default: 1000.
        init_weights: apply torchvision's initialisation. Default: True.
        dropout: dropout probability of the classifier. Default: 0.5.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)` with ``H, W >= 32`` (224 in the paper).
        - Output: :math:`(N, \\text{num\\_classes})`.
    """

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _vgg(cfg, batch_norm, num_classes, in_channels, dropout):
    return VGG(make_vgg_layers(CFGS[cfg], batch_norm, in_channels), num_classes, True, dropout)


_IMAGENET = (3, 224, 224)


@register("vgg11", _IMAGENET, "VGG-11 (configuration A), 132.9M params")
def vgg11(num_classes=1000, in_channels=3, dropout=0.5):
    """VGG-11 (configuration A); see :class:`VGG`."""
    return _vgg("A", False, num_classes, in_channels, dropout)


@register("vgg11_bn", _IMAGENET, "VGG-11 with batch norm, 132.9M params")
def vgg11_bn(num_classes=1000, in_channels=3, dropout=0.5):
    """VGG-11 (configuration A) with batch norm; see :class:`VGG`."""
    return _vgg("A", True, num_classes, in_channels, dropout)


@register("vgg13", _IMAGENET, "VGG-13 (configuration B), 133.0M params")
def vgg13(num_classes=1000, in_channels=3, dropout=0.5):
    """VGG-13 (configuration B); see :class:`VGG`."""
    return _vgg("B", False, num_classes, in_channels, dropout)


@register("vgg13_bn", _IMAGENET, "VGG-13 with batch norm, 133.1M params")
def vgg13_bn(num_classes=1000, in_channels=3, dropout=0.5):
    """VGG-13 (configuration B) with batch norm; see :class:`VGG`."""
    return _vgg("B", True, num_classes, in_channels, dropout)


@register("vgg16", _IMAGENET, "VGG-16 (configuration D), 138.4M params")
def vgg16(num_classes=1000, in_channels=3, dropout=0.5):
    """VGG-16 (configuration D); see :class:`VGG`."""
    return _vgg("D", False, num_classes, in_channels, dropout)


@register("vgg16_bn", _IMAGENET, "VGG-16 with batch norm, 138.4M params")
def vgg16_bn(num_classes=1000, in_channels=3, dropout=0.5):
    """VGG-16 (configuration D) with batch norm; see :class:`VGG`."""
    return _vgg("D", True, num_classes, in_channels, dropout)


@register("vgg19", _IMAGENET, "VGG-19 (configuration E), 143.7M params")
def vgg19(num_classes=1000, in_channels=3, dropout=0.5):
    """VGG-19 (configuration E); see :class:`VGG`."""
    return _vgg("E", False, num_classes, in_channels, dropout)


@register("vgg19_bn", _IMAGENET, "VGG-19 with batch norm, 143.7M params")
def vgg19_bn(num_classes=1000, in_channels=3, dropout=0.5):
    """VGG-19 (configuration E) with batch norm; see :class:`VGG`."""
    return _vgg("E", True, num_classes, in_channels, dropout)
