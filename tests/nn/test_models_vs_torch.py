"""Models built the same way in svertka and torch are interchangeable (issue 4's checks)."""

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka


def lecture_cnn(nn):
    # the lectures' model, verbatim apart from the import
    my_amazing_cnn = nn.Sequential(nn.Conv2d(in_channels=3, out_channels=32, kernel_size=(3, 3),
                                             stride=1, padding=1),
                                   nn.ReLU(),
                                   nn.MaxPool2d(kernel_size=(2, 2)),
                                   nn.Conv2d(32, 32, 3, padding=1),
                                   nn.ReLU(),
                                   nn.MaxPool2d(kernel_size=(2, 2)),
                                   nn.Flatten(),
                                   nn.Linear(2048, 10))
    return my_amazing_cnn


def bn_dropout_net(nn):
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding="same", bias=False), nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, padding_mode="reflect"), nn.BatchNorm2d(8),
        nn.ReLU(), nn.Dropout(0.3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 16),
        nn.BatchNorm1d(16), nn.GELU(), nn.Dropout(0.5), nn.Linear(16, 5))


def residual_block(nn):
    class ResidualBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.shortcut(x))

    return nn.Sequential(ResidualBlock(3, 8, 2), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(8, 4))


MODELS = {"lecture_cnn": (lecture_cnn, (2, 3, 32, 32)),
          "bn_dropout": (bn_dropout_net, (4, 3, 12, 12)),
          "residual": (residual_block, (3, 3, 10, 10))}


def test_lecture_sequential_runs_verbatim():
    model = lecture_cnn(svertka.nn)
    x = svertka.randn(4, 3, 32, 32)
    assert model(x).shape == (4, 10)


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_keys_and_shapes_match_torch(name):
    build, _ = MODELS[name]
    s, t = build(svertka.nn).state_dict(), build(torch.nn).state_dict()
    assert list(s) == list(t)
    assert [tuple(v.shape) for v in s.values()] == [tuple(v.shape) for v in t.values()]


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", MODELS)
def test_torch_weights_give_same_outputs_and_gradients(name, train):
    build, shape = MODELS[name]
    torch.manual_seed(0)
    t_model = build(torch.nn).double()
    s_model = build(svertka.nn).double()
    # make running statistics non-trivial before copying
    with torch.no_grad():
        for m in t_model.modules():
            if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    s_model.load_state_dict({k: v.numpy() for k, v in t_model.state_dict().items()})
    # dropout draws differ between libraries: compare with dropout disabled
    for m in list(t_model.modules()) + list(s_model.modules()):
        if type(m).__name__ == "Dropout":
            m.p = 0.0
    t_model.train(train)
    s_model.train(train)
    x = np.random.default_rng(1).standard_normal(shape)
    target = np.random.default_rng(2).integers(0, 4, shape[0])
    xs, xt = svertka.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = s_model(xs), t_model(xt)
    assert_close(ys, yt, what="output")
    ls = svertka.nn.functional.cross_entropy(ys, svertka.tensor(target))
    lt = torch.nn.functional.cross_entropy(yt, torch.tensor(target))
    ls.backward()
    lt.backward()
    assert_close(xs.grad, xt.grad, what="input gradient")
    for (n, ps), (_, pt) in zip(s_model.named_parameters(), t_model.named_parameters()):
        # a conv bias followed by training-mode BatchNorm has a zero gradient: rounding noise
        assert_close(ps.grad, pt.grad, what=f"gradient of {n}", atol=1e-12)
    for (n, bs), (_, bt) in zip(s_model.named_buffers(), t_model.named_buffers()):
        assert_close(bs, bt, what=f"buffer {n}")


LAYER_REPRS = [
    "Conv2d(3, 32, kernel_size=3, stride=1, padding=1)",
    "Conv2d(4, 8, (3, 5), stride=2, padding='same', groups=2, bias=False) if False else "
    "Conv2d(4, 8, (3, 5), stride=1, padding='same', groups=2, bias=False)",
    "Conv1d(4, 4, 3, dilation=2, padding_mode='reflect', padding=2)",
    "ConvTranspose2d(8, 4, 2, stride=2, output_padding=1)",
    "Linear(20, 30, bias=False)",
    "MaxPool2d(3, stride=2, padding=1, ceil_mode=True)",
    "AvgPool2d(2)", "AdaptiveAvgPool2d((1, 1))", "BatchNorm2d(16, momentum=None)",
    "BatchNorm1d(8, affine=False)", "GroupNorm(4, 16)", "LayerNorm([8, 4])", "InstanceNorm2d(3)",
    "LocalResponseNorm(5)", "Dropout(0.25)", "Dropout2d()", "ReLU(inplace=True)",
    "LeakyReLU(0.2)", "ELU()", "GELU(approximate='tanh')", "Softmax(dim=1)", "Flatten()",
    "Unflatten(1, (2, 5))", "Identity()", "Upsample(scale_factor=2, mode='bilinear')",
    "PixelShuffle(2)", "ZeroPad2d(1)", "ReflectionPad2d((1, 2, 0, 1))", "ConstantPad2d(2, 0.5)",
    "CrossEntropyLoss()", "PReLU(3)",
]


@pytest.mark.parametrize("expr", LAYER_REPRS)
def test_layer_repr_matches_torch(expr):
    s = eval(expr, {}, vars(svertka.nn))
    t = eval(expr, {}, vars(torch.nn))
    assert repr(s) == repr(t)
