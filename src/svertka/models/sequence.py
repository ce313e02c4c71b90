"""1-D convolutional sequence models: a WaveNet stack (van den Oord et al. 2016) and a gated
convolutional network (Dauphin et al. 2017)."""

from __future__ import annotations

from svertka import nn
from svertka.models.registry import register


class CausalConv1d(nn.Module):
    """``Conv1d`` that sees only the present and the past: left zero padding of
    ``dilation * (kernel_size - 1)`` (``ConstantPad1d``), then a valid convolution."""

    def __init__(self, in_channels, out_channels, kernel_size, dilation=1, bias=True):
        super().__init__()
        self.pad = nn.ConstantPad1d((dilation * (kernel_size - 1), 0), 0.0)
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation,
                              bias=bias)

    def forward(self, x):
        return self.conv(self.pad(x))


class WaveNetBlock(nn.Module):
    """Gated residual block: a dilated causal convolution into ``tanh(filter) *
    sigmoid(gate)``, then 1x1 convolutions to the residual and to the skip output. The last
    block of a stack has no residual convolution (``residual=False``): nothing reads it."""

    def __init__(self, residual_channels, dilation_channels, skip_channels, kernel_size,
                 dilation, residual=True):
        super().__init__()
        self.dilation = dilation
        self.filter = CausalConv1d(residual_channels, dilation_channels, kernel_size, dilation)
        self.gate = CausalConv1d(residual_channels, dilation_channels, kernel_size, dilation)
        self.residual = nn.Conv1d(dilation_channels, residual_channels, 1) if residual else None
        self.skip = nn.Conv1d(dilation_channels, skip_channels, 1)

    def forward(self, x):
        z = self.filter(x).tanh() * self.gate(x).sigmoid()
        res = None if self.residual is None else x + self.residual(z)
        return res, self.skip(z)


class WaveNetStack(nn.Module):
    """WaveNet stack: a causal convolution to ``residual_channels``, ``num_stacks`` repeats of
    ``num_layers`` gated residual blocks with dilations 1, 2, 4, ..., 2**(num_layers-1), the
    sum of their skip outputs through ReLU, 1x1 convolution, ReLU, 1x1 convolution to
    ``num_classes`` per time step (e.g. 256 mu-law levels).

    Follows van den Oord et al., "WaveNet: A Generative Model for Raw Audio" (2016), sec. 2.
    Every output step depends only on the inputs up to it (causal); the receptive field is
    ``num_stacks * (kernel_size - 1) * (2**num_layers - 1) + kernel_size`` steps. Departures:
    no conditioning inputs (global or local), the input is a real-valued ``(N, C, L)``
    signal (the paper fed one-hot mu-law samples: pass them as ``in_channels=256``).

    Args:
        in_channels: input channels. Default: 1.
        num_classes: output scores per step. Default: 256.
        residual_channels, dilation_channels, skip_channels: widths of the residual stream,
            of the gated units and of the skip outputs. Defaults: 32, 32, 64.
        num_layers: blocks per stack (dilations 1 ... 2**(num_layers-1)). Default: 10.
        num_stacks: repeats of the dilation cycle. Default: 1.
        kernel_size: taps of the dilated convolutions. Default: 2.

    Shape:
        - Input: :math:`(N, C_{in}, L)`.
        - Output: :math:`(N, \\text{num\\_classes}, L)`.
    """

    def __init__(self, in_channels=1, num_classes=256, residual_channels=32,
                 dilation_channels=32, skip_channels=64, num_layers=10, num_stacks=1,
                 kernel_size=2):
        super().__init__()
        self.causal = CausalConv1d(in_channels, residual_channels, kernel_size)
        n = num_stacks * num_layers
        self.blocks = nn.ModuleList(
            WaveNetBlock(residual_channels, dilation_channels, skip_channels, kernel_size,
                         2 ** (j % num_layers), residual=j < n - 1)
            for j in range(n))
        self.out = nn.Sequential(nn.ReLU(), nn.Conv1d(skip_channels, skip_channels, 1),
                                 nn.ReLU(), nn.Conv1d(skip_channels, num_classes, 1))
        self.receptive_field = num_stacks * (kernel_size - 1) * (2 ** num_layers - 1) \
            + kernel_size

    def forward(self, x):
        x = self.causal(x)
        skips = None
        for block in self.blocks:
            x, s = block(x)
            skips = s if skips is None else skips + s
        return self.out(skips)


@register("wavenet_stack", (1, 64), "WaveNet causal dilated Conv1d residual stack (van den Oord "
                                    "et al. 2016)")
def wavenet_stack(in_channels=1, num_classes=256, residual_channels=32, dilation_channels=32,
                  skip_channels=64, num_layers=10, num_stacks=1, kernel_size=2):
    """WaveNet stack; see :class:`WaveNetStack`.

    >>> import svertka
    >>> from svertka.models import wavenet_stack
    >>> m = wavenet_stack(num_classes=8, num_layers=4)
    >>> m(svertka.zeros(2, 1, 20)).shape, m.receptive_field
    (svertka.Size([2, 8, 20]), 17)
    """
    return WaveNetStack(in_channels, num_classes, residual_channels, dilation_channels,
                        skip_channels, num_layers, num_stacks, kernel_size)


class GatedConvBlock(nn.Module):
    """Causal convolution to twice the channels, GLU over the channels (``a * sigmoid(b)``),
    plus the input (a residual connection)."""

    def __init__(self, channels, kernel_size):
        super().__init__()
        self.conv = CausalConv1d(channels, 2 * channels, kernel_size)
        self.glu = nn.GLU(dim=1)

    def forward(self, x):
        return x + self.glu(self.conv(x))


class GatedCNN(nn.Module):
    """Gated convolutional network: a causal convolution with GLU to ``channels``,
    ``num_layers`` residual gated blocks, and a 1x1 convolution to ``num_classes`` scores per
    time step (next-token prediction).

    Follows Dauphin, Fan, Auli and Grangier, "Language Modeling with Gated Convolutional
    Networks" (2017): gated linear units ``h = (X*W + b) * sigmoid(X*V + c)`` over causally
    padded convolutions. Departures: the input is ``(N, C, L)`` features (the paper looked up
    word embeddings: pass embedded tokens), the residual connection wraps each layer (the paper
    used bottleneck blocks of up to 5 layers), no weight normalisation, and a plain linear
    output instead of the adaptive softmax.

    Args:
        in_channels: input channels. Default: 1.
        num_classes: output scores per step. Default: 10.
        channels: width of the gated layers. Default: 64.
        num_layers: residual gated blocks. Default: 4.
        kernel_size: taps of the causal convolutions. Default: 3.

    Shape:
        - Input: :math:`(N, C_{in}, L)`.
        - Output: :math:`(N, \\text{num\\_classes}, L)`.
    """

    def __init__(self, in_channels=1, num_classes=10, channels=64, num_layers=4, kernel_size=3):
        super().__init__()
        self.input = nn.Sequential(CausalConv1d(in_channels, 2 * channels, kernel_size),
                                   nn.GLU(dim=1))
        self.blocks = nn.Sequential(*(GatedConvBlock(channels, kernel_size)
                                      for _ in range(num_layers)))
        self.out = nn.Conv1d(channels, num_classes, 1)

    def forward(self, x):
        return self.out(self.blocks(self.input(x)))


@register("gated_cnn", (1, 64), "gated convolutional network (GLU over causal Conv1d, Dauphin "
                                "et al. 2017)")
def gated_cnn(in_channels=1, num_classes=10, channels=64, num_layers=4, kernel_size=3):
    """Gated CNN; see :class:`GatedCNN`.

    >>> import svertka
    >>> from svertka.models import gated_cnn
    >>> gated_cnn(in_channels=4, num_classes=7)(svertka.zeros(2, 4, 12)).shape
    svertka.Size([2, 7, 12])
    """
    return GatedCNN(in_channels, num_classes, channels, num_layers, kernel_size)
