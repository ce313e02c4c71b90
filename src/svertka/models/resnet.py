"""ResNet (He et al. 2015) for ImageNet, ResNeXt (Xie et al. 2017), and the CIFAR ResNets.

The ImageNet models have torchvision's structure, module names and parameter shapes, so a
torchvision state_dict (as NumPy arrays) loads with ``strict=True``.
"""

from __future__ import annotations

from svertka import nn
from svertka.models.registry import register
from svertka.nn import functional as F
from svertka.nn.modules._inference import add_act, conv_bn_act


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution with padding, no bias (a batch norm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (ResNet-18/34, the CIFAR ResNets)."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError(f"BasicBlock: only groups=1 and base_width=64 are supported, got "
                             f"groups={groups}, base_width={base_width}")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        # = relu(bn2(conv2(relu(bn1(conv1(x))))) + identity); without a graph the batch norms
        # are folded into the convolutions and ReLU and the sum work in place (_inference.py)
        out, _ = conv_bn_act(self.conv1, self.bn1, self.relu, x)
        out, fresh = conv_bn_act(self.conv2, self.bn2, None, out)
        identity = x if self.downsample is None else self.downsample(x)
        return add_act(out, fresh, identity, self.relu)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (stride and groups here, as torchvision's "ResNet V1.5"), 1x1 expand."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        # as BasicBlock's: folded and in place without a graph (_inference.py)
        out, _ = conv_bn_act(self.conv1, self.bn1, self.relu, x)
        out, _ = conv_bn_act(self.conv2, self.bn2, self.relu, out)
        out, fresh = conv_bn_act(self.conv3, self.bn3, None, out)
        identity = x if self.downsample is None else self.downsample(x)
        return add_act(out, fresh, identity, self.relu)


class ResNet(nn.Module):
    """ResNet for ImageNet: a 7x7/2 stem and 3x3/2 max pooling, four stages of residual blocks
    (64, 128, 256, 512 planes; stride 2 from the second), global average pooling, a linear layer.

    Follows He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition" (2015),
    as torchvision builds it: projection shortcuts (1x1 conv + batch norm) where the shape
    changes (the paper's option B), and in bottlenecks the stride sits on the 3x3 convolution
    (the paper put it on the first 1x1: torchvision's "V1.5"). Convolutions are initialised
    with ``kaiming_normal_(mode='fan_out', nonlinearity='relu')``, batch norms with weight 1 and
    bias 0; ``zero_init_residual=True`` zeroes the last batch norm of each block (Goyal et al.
    2017). ``in_channels`` (default 3) is an addition; ``groups``/``width_per_group`` give
    ResNeXt.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: the number of blocks of each of the four stages.
        num_classes: outputs of the last layer. Default: 1000.
        zero_init_residual: zero the last batch norm weight of each block. Default: False.
        groups, width_per_group: grouped 3x3 convolutions of the bottlenecks (ResNeXt).
        in_channels: input channels. Default: 3.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`, any ``H, W >= 1`` (224 in the paper).
        - Output: :math:`(N, \\text{num\\_classes})`.
    """

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, in_channels=3):
        super().__init__()
        self.inplanes = 64
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        _init_resnet(self, zero_init_residual)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(conv_bn_act(self.conv1, self.bn1, self.relu, x)[0])
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _init_resnet(model, zero_init_residual):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, Bottleneck):
                nn.init.constant_(m.bn3.weight, 0)
            elif isinstance(m, BasicBlock):
                nn.init.constant_(m.bn2.weight, 0)


_IMAGENET = (3, 224, 224)


@register("resnet18", _IMAGENET, "ResNet-18 (He et al. 2015, torchvision layout), 11.7M params")
def resnet18(num_classes=1000, in_channels=3, zero_init_residual=False):
    """ResNet-18 (basic blocks 2-2-2-2); see :class:`ResNet`.

    >>> import svertka
    >>> from svertka.models import resnet18
    >>> sum(p.numel() for p in resnet18().parameters())
    11689512
    >>> resnet18(num_classes=10)(svertka.zeros(2, 3, 32, 32)).shape
    svertka.Size([2, 10])
    """
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, zero_init_residual,
                  in_channels=in_channels)


@register("resnet34", _IMAGENET, "ResNet-34 (basic blocks 3-4-6-3), 21.8M params")
def resnet34(num_classes=1000, in_channels=3, zero_init_residual=False):
    """ResNet-34 (basic blocks 3-4-6-3); see :class:`ResNet`."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, zero_init_residual,
                  in_channels=in_channels)


@register("resnet50", _IMAGENET, "ResNet-50 (bottlenecks 3-4-6-3), 25.6M params")
def resnet50(num_classes=1000, in_channels=3, zero_init_residual=False):
    """ResNet-50 (bottleneck blocks 3-4-6-3); see :class:`ResNet`."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, zero_init_residual,
                  in_channels=in_channels)


@register("resnet101", _IMAGENET, "ResNet-101 (bottlenecks 3-4-23-3), 44.5M params")
def resnet101(num_classes=1000, in_channels=3, zero_init_residual=False):
    """ResNet-101 (bottleneck blocks 3-4-23-3); see :class:`ResNet`."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, zero_init_residual,
                  in_channels=in_channels)


@register("resnet152", _IMAGENET, "ResNet-152 (bottlenecks 3-8-36-3), 60.2M params")
def resnet152(num_classes=1000, in_channels=3, zero_init_residual=False):
    """ResNet-152 (bottleneck blocks 3-8-36-3); see :class:`ResNet`."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, zero_init_residual,
                  in_channels=in_channels)


@register("resnext50_32x4d", _IMAGENET, "ResNeXt-50 32x4d (Xie et al. 2017), 25.0M params")
def resnext50_32x4d(num_classes=1000, in_channels=3, zero_init_residual=False):
    """ResNeXt-50 (32x4d): ResNet-50 whose 3x3 convolutions have 32 groups of width 4 per
    64 planes. Follows Xie et al., "Aggregated Residual Transformations for Deep Neural
    Networks" (2017), form (c) (grouped convolution), as torchvision builds it."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, zero_init_residual, groups=32,
                  width_per_group=4, in_channels=in_channels)


# ---------------------------------------------------------------------- CIFAR ResNets
class ShortcutA(nn.Module):
    """Option A shortcut (He et al. 2015, sec. 3.3): subsample by ``stride`` and zero-pad the
    new channels; no parameters."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.stride = stride
        self.extra = planes - in_planes

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        # split the new channels evenly on both sides, as the common CIFAR implementations
        lo = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, lo, self.extra - lo))

    def extra_repr(self):
        return f"stride={self.stride}, extra_channels={self.extra}"


class CifarResNet(nn.Module):
    """ResNet for 32x32 images (He et al. 2015, sec. 4.2): a 3x3 convolution to 16 channels,
    three stages of ``n`` basic blocks with 16, 32 and 64 channels (stride 2 at the start of
    the second and third), global average pooling and a linear layer: ``6n + 2`` layers.

    ``shortcut='A'`` (the paper's CIFAR choice, default) uses parameter-free identity
    shortcuts, subsampled and zero-padded where the shape changes (ResNet-20: 269,722
    parameters); ``shortcut='B'`` uses 1x1 convolution + batch norm projections there instead
    (ResNet-20: 272,474). Initialisation as torchvision's ResNet (the paper used He init with
    fan_in); ``in_channels`` (default 3) is an addition.

    Args:
        depth: ``6n + 2`` (20, 32, 44, 56, 110).
        num_classes: outputs. Default: 10.
        in_channels: input channels. Default: 3.
        shortcut: ``'A'`` (zero-padding identity) or ``'B'`` (projection). Default: ``'A'``.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`, 32x32 in the paper.
        - Output: :math:`(N, \\text{num\\_classes})`.
    """

    def __init__(self, depth, num_classes=10, in_channels=3, shortcut="A"):
        super().__init__()
        if (depth - 2) % 6 != 0 or depth < 8:
            raise ValueError(f"CifarResNet: depth must be 6n + 2 with n >= 1, got depth={depth}")
        if shortcut not in ("A", "B"):
            raise ValueError(f"CifarResNet: shortcut must be 'A' or 'B', got shortcut={shortcut!r}")
        n = (depth - 2) // 6
        self.conv1 = conv3x3(in_channels, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.in_planes = 16
        self.layer1 = self._make_layer(16, n, 1, shortcut)
        self.layer2 = self._make_layer(32, n, 2, shortcut)
        self.layer3 = self._make_layer(64, n, 2, shortcut)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        _init_resnet(self, False)

    def _make_layer(self, planes, blocks, stride, shortcut):
        layers = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            down = None
            if s != 1 or self.in_planes != planes:
                if shortcut == "A":
                    down = ShortcutA(self.in_planes, planes, s)
                else:
                    down = nn.Sequential(conv1x1(self.in_planes, planes, s),
                                         nn.BatchNorm2d(planes))
            layers.append(BasicBlock(self.in_planes, planes, s, down))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        x = conv_bn_act(self.conv1, self.bn1, self.relu, x)[0]
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


_CIFAR = (3, 32, 32)


@register("resnet20", _CIFAR, "CIFAR ResNet-20 (He et al. 2015 sec. 4.2, option A), 0.27M params")
def resnet20(num_classes=10, in_channels=3, shortcut="A"):
    """ResNet-20 for 32x32 images; see :class:`CifarResNet`.

    >>> import svertka
    >>> from svertka.models import resnet20
    >>> sum(p.numel() for p in resnet20().parameters())
    269722
    >>> resnet20()(svertka.zeros(2, 3, 32, 32)).shape
    svertka.Size([2, 10])
    """
    return CifarResNet(20, num_classes, in_channels, shortcut)


@register("resnet32", _CIFAR, "CIFAR ResNet-32 (option A), 0.46M params")
def resnet32(num_classes=10, in_channels=3, shortcut="A"):
    """ResNet-32 for 32x32 images; see :class:`CifarResNet`."""
    return CifarResNet(32, num_classes, in_channels, shortcut)


@register("resnet44", _CIFAR, "CIFAR ResNet-44 (option A), 0.66M params")
def resnet44(num_classes=10, in_channels=3, shortcut="A"):
    """ResNet-44 for 32x32 images; see :class:`CifarResNet`."""
    return CifarResNet(44, num_classes, in_channels, shortcut)


@register("resnet56", _CIFAR, "CIFAR ResNet-56 (option A), 0.85M params")
def resnet56(num_classes=10, in_channels=3, shortcut="A"):
    """ResNet-56 for 32x32 images; see :class:`CifarResNet`."""
    return CifarResNet(56, num_classes, in_channels, shortcut)


@register("resnet110", _CIFAR, "CIFAR ResNet-110 (option A), 1.7M params")
def resnet110(num_classes=10, in_channels=3, shortcut="A"):
    """ResNet-110 for 32x32 images; see :class:`CifarResNet`."""
    return CifarResNet(110, num_classes, in_channels, shortcut)


__all__ = ["ResNet", "CifarResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34",
           "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnet20", "resnet32",
           "resnet44", "resnet56", "resnet110"]
