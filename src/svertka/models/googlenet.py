"""GoogLeNet / Inception v1 (Szegedy et al. 2014), torchvision layout."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

import svertka
from svertka import nn
from svertka.models.registry import register
from svertka.nn import functional as F

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
GoogLeNetOutputs.__doc__ = "The training-mode outputs of a GoogLeNet with auxiliary heads."


class BasicConv2d(nn.Module):
    """Convolution (no bias), batch norm (eps 0.001), ReLU."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """An Inception module: 1x1, 1x1 -> 3x3, 1x1 -> "5x5" and 3x3 max pool -> 1x1 branches,
    concatenated along channels. The "5x5" branch uses a 3x3 kernel, as torchvision's (a
    known departure from the paper kept so that its weights load)."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return svertka.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                            self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: adaptive average pooling to 4x4, 1x1 conv to 128, linear 1024,
    dropout 0.7, linear to the classes."""

    def __init__(self, in_channels, num_classes, dropout=0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """GoogLeNet: a convolutional stem, nine Inception modules (3a-b, 4a-e, 5a-b) with max
    pooling between the groups, global average pooling, dropout and a linear layer; with
    ``aux_logits=True`` two auxiliary classifiers on 4a and 4d.

    Follows Szegedy et al., "Going Deeper with Convolutions" (2014) as torchvision builds it:
    batch norm after every convolution (from Inception v2), no local response normalisation,
    3x3 instead of 5x5 kernels in the third branch, max pooling with ``ceil_mode=True``.
    Initialisation: ``trunc_normal_(std=0.01, a=-2, b=2)`` for convolutions and linear
    weights, batch norms 1 and 0. 6,624,904 parameters for 1000 classes without the auxiliary
    heads.

    In training mode with ``aux_logits=True`` the forward returns
    ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``; otherwise the logits.

    Args:
        num_classes: outputs. Default: 1000.
        aux_logits: build the two auxiliary classifiers. Default: True (the builder: False).
        init_weights: apply torchvision's initialisation. Default: True.
        dropout, dropout_aux: dropout probabilities of the head and of the auxiliary heads.
        in_channels: input channels (an addition). Default: 3.
        transform_input: re-scale ImageNet-normalised RGB inputs to [-1, 1] per channel, as
            the weights ported from Google's expect (``(x * std + mean - 0.5) / 0.5``);
            ``get_model("googlenet", weights=...)`` sets it, as torchvision does. Default:
            False.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)` (224 in the paper).
        - Output: :math:`(N, \\text{num\\_classes})`.
    """

    def __init__(self, num_classes=1000, aux_logits=True, init_weights=True, dropout=0.2,
                 dropout_aux=0.7, in_channels=3, transform_input=False):
        super().__init__()
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def _transform_input(self, x):
        if not self.transform_input:
            return x
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"GoogLeNet: transform_input needs RGB inputs (N, 3, H, W), got "
                             f"shape {tuple(x.shape)}")
        mean = np.array([0.485, 0.456, 0.406], dtype=np.float64)
        std = np.array([0.229, 0.224, 0.225], dtype=np.float64)
        dt = np.float64 if x.dtype == svertka.float64 else np.float32
        scale = (std / 0.5).astype(dt).reshape(1, 3, 1, 1)                # (1, 3, 1, 1)
        shift = ((mean - 0.5) / 0.5).astype(dt).reshape(1, 3, 1, 1)
        return x * scale + shift

    def forward(self, x):
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


@register("googlenet", (3, 224, 224), "GoogLeNet / Inception v1 (torchvision layout, batch "
                                      "norm), 6.6M params")
def googlenet(num_classes=1000, aux_logits=False, in_channels=3, dropout=0.2, dropout_aux=0.7,
              transform_input=False):
    """GoogLeNet; see :class:`GoogLeNet`. ``aux_logits`` defaults to False here (torchvision's
    defaults to True), so that the model returns plain logits to the training loop; pass
    ``aux_logits=True`` for the paper's auxiliary heads (13,004,888 parameters).

    >>> import svertka
    >>> from svertka.models import googlenet
    >>> sum(p.numel() for p in googlenet().parameters())
    6624904
    >>> googlenet(num_classes=10).eval()(svertka.zeros(1, 3, 32, 32)).shape
    svertka.Size([1, 10])
    """
    return GoogLeNet(num_classes, aux_logits, True, dropout, dropout_aux, in_channels,
                     transform_input)
