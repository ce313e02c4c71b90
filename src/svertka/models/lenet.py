"""LeNet-5 (LeCun et al. 1998) and the lectures' small CNN."""

from __future__ import annotations

from svertka import nn
from svertka.models.registry import register
from svertka.nn import functional as F


class ResizeTo(nn.Module):
    """Bring inputs of another spatial size to ``size``; no parameters.

    Inputs 4 pixels smaller in each axis (28x28 MNIST digits for 32x32) are zero-padded by 2
    on each side, as LeCun et al. (1998) centred the 28x28 digits in a 32x32 field: an exact
    copy of the pixels, and far cheaper than a resize. Inputs of any other size (the 8x8
    digits) are resized with bilinear interpolation; inputs of ``size`` pass through.
    """

    def __init__(self, size):
        super().__init__()
        self.size = tuple(size)

    def forward(self, x):
        have = tuple(x.shape[-2:])
        if have == self.size:
            return x
        if tuple(s - h for s, h in zip(self.size, have)) == (4, 4):
            return F.pad(x, (2, 2, 2, 2))
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)

    def extra_repr(self):
        return f"size={self.size}"


class LeNet5(nn.Module):
    """LeNet-5: two convolution/subsampling stages and three fully connected layers.

    Follows LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to document
    recognition" (1998), on 32x32 inputs: C1 6@5x5 -> S2 2x2 -> C3 16@5x5 -> S4 2x2 -> F5 120
    -> F6 84 -> 10 outputs, 61,706 parameters. Departures: S2/S4 are plain pooling (the paper's
    subsampling had a trainable coefficient and bias per map), C3 connects to all S2 maps (the
    paper used a sparse connection table), and the output is a linear layer (the paper used
    Euclidean RBF units). ``classic=True`` keeps tanh and average pooling; the default uses
    ReLU and max pooling, which train faster.

    28x28 inputs (MNIST) are zero-padded by 2 pixels on each side to 32x32, as in the paper;
    inputs of another size (the 8x8 digits) are resized to 32x32 (bilinear); neither has
    parameters, so the layer shapes are those of the paper. Measured on the
    digits with the CLI's recipe (2 cores): this model reached 98.3% test accuracy in 17 s
    (30 epochs); keeping the 8x8 size and padding the convolutions instead ("same" 5x5
    convolutions, 21k-44k parameters) trained 2.3x faster but reached only 94-97%.

    Args:
        num_classes: outputs. Default: 10.
        in_channels: input channels. Default: 1.
        classic: tanh and average pooling (1998) instead of ReLU and max pooling. Default:
            False.
    """

    def __init__(self, num_classes=10, in_channels=1, classic=False):
        super().__init__()
        act = nn.Tanh if classic else nn.ReLU
        pool = nn.AvgPool2d if classic else nn.MaxPool2d
        self.resize = ResizeTo((32, 32))
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5), act(), pool(2),
            nn.Conv2d(6, 16, kernel_size=5), act(), pool(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), act(), nn.Linear(120, 84), act(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(self.resize(x)))


@register("lenet5", (1, 32, 32), "LeNet-5 (1998 layout, ReLU + max pooling), 61,706 params")
def lenet5(num_classes=10, in_channels=1, classic=False):
    """LeNet-5; see :class:`LeNet5`.

    >>> import svertka
    >>> from svertka.models import lenet5
    >>> lenet5()(svertka.zeros(2, 1, 8, 8)).shape
    svertka.Size([2, 10])
    """
    return LeNet5(num_classes, in_channels, classic)


@register("lecture_cnn", (3, 32, 32), "the lectures' CNN: 3 conv-relu-maxpool stages "
                                      "32/64/128, Linear(2048, 10)")
def lecture_cnn(num_classes=10, in_channels=3, input_size=None):
    """The lectures' CNN for 32x32 images: three stages of 3x3 conv (padding 1), ReLU and 2x2
    max pooling with 32, 64 and 128 channels, then ``Linear(2048, num_classes)``.

    ``input_size`` (``(C, H, W)``, as the CLI passes it) sizes the linear layer for other
    inputs: ``128 * (H // 8) * (W // 8)`` features (2048 for 32x32, 128 for the 8x8 digits).

    >>> import svertka
    >>> from svertka.models import lecture_cnn
    >>> lecture_cnn()(svertka.zeros(2, 3, 32, 32)).shape
    svertka.Size([2, 10])
    >>> lecture_cnn(in_channels=1, input_size=(1, 8, 8))(svertka.zeros(2, 1, 8, 8)).shape
    svertka.Size([2, 10])
    """
    h, w = (32, 32) if input_size is None else tuple(input_size)[-2:]
    if h < 8 or w < 8:
        raise ValueError(f"lecture_cnn: inputs must be at least 8x8 (three 2x2 poolings), "
                         f"got input_size={tuple(input_size)}")
    layers = []
    c = in_channels
    for width in (32, 64, 128):
        layers += [nn.Conv2d(c, width, kernel_size=3, padding=1), nn.ReLU(),
                   nn.MaxPool2d(kernel_size=2)]
        c = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * (h // 8) * (w // 8),
                                                          num_classes))
