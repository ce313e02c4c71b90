"""torch.nn references of the torchvision-covered models, for the layout and value tests.

Written from torchvision's definitions (torchvision itself cannot be installed next to this
torch): same module names, same parameter shapes. Build them under ``torch.device('meta')``
to compare layouts without allocating the big ones.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class TBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, groups=1, width_per_group=64):
        super().__init__()
        self.inplanes, self.groups, self.base_width = 64, groups, width_per_group
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        down = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            down = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, down, self.groups, self.base_width)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, groups=self.groups, base_width=self.base_width)
                   for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TShortcutA(nn.Module):
    """The usual CIFAR option-A lambda: subsample, zero-pad channels on both sides."""

    def __init__(self, planes):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class TCifarResNet(nn.Module):
    def __init__(self, depth, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.in_planes = 16
        self.layer1 = self._make_layer(16, n, 1)
        self.layer2 = self._make_layer(32, n, 2)
        self.layer3 = self._make_layer(64, n, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)

    def _make_layer(self, planes, blocks, stride):
        layers = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            down = TShortcutA(planes) if s != 1 else None
            layers.append(TBasicBlock(self.in_planes, planes, s, down))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x))))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def t_alexnet(num_classes=1000):
    m = nn.Module()
    m.features = nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
    m.avgpool = nn.AdaptiveAvgPool2d((6, 6))
    m.classifier = nn.Sequential(nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(),
                                 nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes))
    return m


_VGG = {11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
        13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
        16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512,
             512, "M"],
        19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
             512, 512, 512, 512, "M"]}


def t_vgg(depth, batch_norm, num_classes=1000):
    layers, c = [], 3
    for v in _VGG[depth]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers.append(nn.Conv2d(c, v, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU())
            c = v
    m = nn.Module()
    m.features = nn.Sequential(*layers)
    m.avgpool = nn.AdaptiveAvgPool2d((7, 7))
    m.classifier = nn.Sequential(nn.Linear(25088, 4096), nn.ReLU(), nn.Dropout(),
                                 nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
                                 nn.Linear(4096, num_classes))
    return m


class TBasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)


class TInception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.branch1 = TBasicConv2d(cin, c1, kernel_size=1)
        self.branch2 = nn.Sequential(TBasicConv2d(cin, c3r, kernel_size=1),
                                     TBasicConv2d(c3r, c3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(TBasicConv2d(cin, c5r, kernel_size=1),
                                     TBasicConv2d(c5r, c5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True),
                                     TBasicConv2d(cin, pp, kernel_size=1))


class TInceptionAux(nn.Module):
    def __init__(self, cin, num_classes):
        super().__init__()
        self.conv = TBasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)


def t_googlenet(aux_logits=False, num_classes=1000):
    """Layout only (no forward)."""
    m = nn.Module()
    m.conv1 = TBasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
    m.conv2 = TBasicConv2d(64, 64, kernel_size=1)
    m.conv3 = TBasicConv2d(64, 192, kernel_size=3, padding=1)
    m.inception3a = TInception(192, 64, 96, 128, 16, 32, 32)
    m.inception3b = TInception(256, 128, 128, 192, 32, 96, 64)
    m.inception4a = TInception(480, 192, 96, 208, 16, 48, 64)
    m.inception4b = TInception(512, 160, 112, 224, 24, 64, 64)
    m.inception4c = TInception(512, 128, 128, 256, 24, 64, 64)
    m.inception4d = TInception(512, 112, 144, 288, 32, 64, 64)
    m.inception4e = TInception(528, 256, 160, 320, 32, 128, 128)
    m.inception5a = TInception(832, 256, 160, 320, 32, 128, 128)
    m.inception5b = TInception(832, 384, 192, 384, 48, 128, 128)
    if aux_logits:
        m.aux1 = TInceptionAux(512, num_classes)
        m.aux2 = TInceptionAux(528, num_classes)
    m.fc = nn.Linear(1024, num_classes)
    return m


def _cna(cin, cout, k=3, stride=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups,
                                   bias=False), nn.BatchNorm2d(cout), nn.ReLU6())


class TInvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, t):
        super().__init__()
        hidden = int(round(inp * t))
        layers = [_cna(inp, hidden, 1)] if t != 1 else []
        layers += [_cna(hidden, hidden, 3, stride, hidden),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)


def t_mobilenet_v2(num_classes=1000):
    """Layout only (no forward), width_mult=1: the channels need no rounding."""
    settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
                [6, 160, 3, 2], [6, 320, 1, 1]]
    features, c = [_cna(3, 32, stride=2)], 32
    for t, out, n, s in settings:
        for i in range(n):
            features.append(TInvertedResidual(c, out, s if i == 0 else 1, t))
            c = out
    features.append(_cna(c, 1280, 1))
    m = nn.Module()
    m.features = nn.Sequential(*features)
    m.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))
    return m


TORCH_REFS = {
    "alexnet": t_alexnet,
    **{f"vgg{d}{'_bn' if bn else ''}": (lambda d=d, bn=bn: t_vgg(d, bn))
       for d in _VGG for bn in (False, True)},
    "resnet18": lambda: TResNet(TBasicBlock, [2, 2, 2, 2]),
    "resnet34": lambda: TResNet(TBasicBlock, [3, 4, 6, 3]),
    "resnet50": lambda: TResNet(TBottleneck, [3, 4, 6, 3]),
    "resnet101": lambda: TResNet(TBottleneck, [3, 4, 23, 3]),
    "resnet152": lambda: TResNet(TBottleneck, [3, 8, 36, 3]),
    "resnext50_32x4d": lambda: TResNet(TBottleneck, [3, 4, 6, 3], groups=32,
                                       width_per_group=4),
    "googlenet": t_googlenet,
    "googlenet_aux": lambda: t_googlenet(aux_logits=True),
    "mobilenet_v2": t_mobilenet_v2,
}


def meta_layout(name):
    """``{key: shape}`` of the torch reference's state_dict, built on the meta device."""
    with torch.device("meta"):
        model = TORCH_REFS[name]()
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}
