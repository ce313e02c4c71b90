"""Layer modules behave as torch's: forward and gradients with the same weights, in float64."""

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka
from svertka import nn

# (constructor expression, input shape, train mode)
LAYERS = [
    ("Conv2d(3, 4, 3, padding=1, padding_mode='reflect')", (2, 3, 7, 6), True),
    ("Conv2d(3, 4, 4, padding='same', padding_mode='replicate')", (2, 3, 7, 6), True),
    ("Conv2d(3, 4, 3, padding=2, dilation=2, padding_mode='circular')", (2, 3, 7, 6), True),
    ("Conv1d(4, 6, 3, stride=2, groups=2)", (2, 4, 9), True),
    ("Conv3d(2, 3, (1, 2, 3), padding='valid')", (1, 2, 3, 4, 5), True),
    ("ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)", (2, 4, 5, 5), True),
    ("ConvTranspose1d(4, 4, 3, stride=2, groups=4, dilation=2)", (2, 4, 6), True),
    ("Linear(7, 3)", (4, 2, 7), True),
    ("Bilinear(3, 3, 2)", None, True),
    ("BatchNorm1d(5)", (6, 5), True),
    ("BatchNorm1d(5, momentum=None)", (6, 5, 3), True),
    ("BatchNorm2d(3, affine=False)", (4, 3, 2, 2), False),
    ("BatchNorm3d(2, track_running_stats=False)", (3, 2, 2, 2, 2), False),
    ("InstanceNorm2d(3, affine=True)", (2, 3, 4, 4), True),
    ("InstanceNorm1d(3, affine=True)", (3, 5), True),
    ("GroupNorm(2, 4)", (3, 4, 5), True),
    ("LayerNorm([4, 5])", (3, 4, 5), True),
    ("LocalResponseNorm(3)", (2, 6, 3, 3), True),
    ("MaxPool2d(3, stride=2, padding=1, ceil_mode=True)", (2, 3, 8, 7), True),
    ("AvgPool2d(2, count_include_pad=False, padding=1)", (2, 3, 5, 5), True),
    ("AdaptiveAvgPool2d((2, 3))", (2, 3, 7, 8), True),
    ("AdaptiveMaxPool1d(3)", (2, 3, 10), True),
    ("LPPool2d(2, 2)", (2, 3, 4, 4), True),
    ("PReLU(3)", (2, 3, 4), True),
    ("Softmax(dim=1)", (2, 5, 3), True),
    ("LogSoftmax(dim=-1)", (2, 5), True),
    ("Upsample(scale_factor=2, mode='bilinear', align_corners=False)", (1, 2, 3, 4), True),
    ("Upsample(size=(5, 7), mode='nearest')", (1, 2, 3, 4), True),
    ("PixelShuffle(2)", (1, 8, 3, 3), True),
    ("ReflectionPad2d((1, 2, 0, 1))", (1, 2, 3, 4), True),
    ("ConstantPad1d(2, 0.5)", (1, 2, 3), True),
    ("Dropout(0.5)", (4, 5), False),
    ("Flatten(0, 1)", (2, 3, 4), True),
    ("Unflatten(1, (2, 3))", (4, 6), True),
]


def _copy_params(s, t):
    s.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})


@pytest.mark.parametrize("expr,shape,train", LAYERS, ids=[x[0] for x in LAYERS])
def test_layer_matches_torch(expr, shape, train):
    torch.manual_seed(0)
    t = eval(expr, {}, vars(torch.nn)).double().train(train)
    s = eval(expr, {}, vars(nn)).double().train(train)
    _copy_params(s, t)
    rng = np.random.default_rng(0)
    if shape is None:  # Bilinear takes two inputs
        xs_np = [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))]
    else:
        xs_np = [rng.standard_normal(shape)]
    xs = [svertka.tensor(a, requires_grad=True) for a in xs_np]
    xt = [torch.tensor(a, requires_grad=True) for a in xs_np]
    ys, yt = s(*xs), t(*xt)
    assert_close(ys, yt, what="output")
    gy = rng.standard_normal(tuple(yt.shape))
    ys.backward(svertka.tensor(gy))
    yt.backward(torch.tensor(gy))
    for a, b in zip(xs, xt):
        assert_close(a.grad, b.grad, what="input gradient")
    for (n, ps), (_, pt) in zip(s.named_parameters(), t.named_parameters()):
        assert_close(ps.grad, pt.grad, what=f"gradient of {n}")
    for (n, bs), (_, bt) in zip(s.named_buffers(), t.named_buffers()):
        assert_close(bs, bt, what=f"buffer {n}")


def test_batchnorm_running_stats_follow_torch_over_steps():
    torch.manual_seed(0)
    for momentum in (0.1, None):
        t = torch.nn.BatchNorm2d(3, momentum=momentum).double()
        s = nn.BatchNorm2d(3, momentum=momentum).double()
        rng = np.random.default_rng(1)
        for _ in range(4):
            x = rng.standard_normal((5, 3, 2, 2)) * 3 + 1
            s(svertka.tensor(x))
            t(torch.tensor(x))
        assert s.num_batches_tracked.item() == 4
        for name in ("running_mean", "running_var"):
            assert_close(getattr(s, name), getattr(t, name), what=name)
        s.eval()
        t.eval()
        x = rng.standard_normal((2, 3, 2, 2))
        assert_close(s(svertka.tensor(x)), t(torch.tensor(x)).detach(), what="eval output")


def test_conv_transpose_output_size_argument():
    t = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    s = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    _copy_params(s, t)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    ys = s(svertka.tensor(x), output_size=(8, 8))
    yt = t(torch.tensor(x), output_size=(8, 8))
    assert ys.shape == (1, 3, 8, 8)
    assert_close(ys, yt.detach())
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        s(svertka.tensor(x), output_size=(10, 10))


def test_locally_connected_with_shared_weights_is_a_convolution():
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1).double()
    lc = nn.LocallyConnected2d(3, 4, input_size=(7, 6), kernel_size=3, stride=2,
                               padding=1).double()
    h, w = lc.output_size
    with svertka.no_grad():
        lc.weight.copy_(conv.weight.reshape(1, 1, 4, 3, 3, 3).expand(h, w, 4, 3, 3, 3))
        lc.bias.copy_(conv.bias.reshape(4, 1, 1).expand(4, h, w))
    x = svertka.randn(2, 3, 7, 6, dtype=svertka.float64)
    assert_close(lc(x), conv(x).detach().numpy())


def test_dropout_module_is_identity_in_eval_and_drops_in_train():
    d = nn.Dropout(0.5)
    x = svertka.ones(1000)
    y = d(x)
    kept = y.numpy() != 0
    assert 400 < kept.sum() < 600 and np.allclose(y.numpy()[kept], 2.0)
    d.eval()
    assert np.array_equal(d(x).numpy(), x.numpy())


def test_relu_inplace_flag_modifies_input():
    x = svertka.tensor([-1.0, 2.0])
    y = nn.ReLU(inplace=True)(x)
    assert x.tolist() == [0.0, 2.0] and y.tolist() == [0.0, 2.0]


@pytest.mark.parametrize("expr,message", [
    ("Conv2d(3, 4, 3, groups=2)", "in_channels must be divisible by groups"),
    ("Conv2d(4, 6, 3, groups=4)", "out_channels must be divisible by groups"),
    ("Conv2d(3, 4, 3, stride=2, padding='same')", "padding='same' is not supported for "
                                                  "strided convolutions"),
    ("Conv2d(3, 4, 3, padding_mode='mirror')", "padding_mode must be one of"),
    ("Conv2d(3, 4, (3, 0))", r"kernel_size must be a positive int or a tuple of 2"),
    ("GroupNorm(3, 4)", "num_channels must be divisible by num_groups"),
    ("Dropout(1.5)", r"p must be a probability in \[0, 1\], got p=1.5"),
    ("CrossEntropyLoss(reduction='avg')", "reduction must be one of 'mean', 'sum', 'none'"),
])
def test_layer_constructor_rejects_bad_arguments(expr, message):
    with pytest.raises(ValueError, match=message):
        eval(expr, {}, vars(nn))


def test_batchnorm_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 3D input"):
        nn.BatchNorm2d(3)(svertka.randn(2, 3, 4))


def test_distance_modules_match_torch():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    for expr in ("CosineSimilarity(dim=1)", "PairwiseDistance(p=1.5, keepdim=True)"):
        s = eval(expr, {}, vars(nn))(svertka.tensor(a), svertka.tensor(b))
        t = eval(expr, {}, vars(torch.nn))(torch.tensor(a), torch.tensor(b))
        assert_close(s, t, what=expr)


@pytest.mark.parametrize("expr, exc, message", [
    ("LayerNorm(3.0)", TypeError, r"LayerNorm: normalized_shape must be an int or a tuple"),
    ("LayerNorm('x')", TypeError, r"LayerNorm: normalized_shape must be"),
    ("LayerNorm((2**40, 2**40))", ValueError, r"LayerNorm: the normalized_shape of shape"),
    ("GroupNorm(2, '4')", TypeError, r"GroupNorm: num_channels must be a positive int"),
    ("PReLU(init='x')", TypeError, r"PReLU: init must be a real number, got init='x'"),
    ("Embedding(2**63, 3)", ValueError, r"Embedding: num_embeddings must be a non-negative "
                                        r"int that fits in int64"),
    ("Embedding(2**40, 2**40)", ValueError, r"Embedding: the weight of shape"),
    ("BatchNorm2d(2**63)", ValueError, r"BatchNorm2d: num_features must be a positive int"),
    ("LocalResponseNorm('3')", TypeError, r"LocalResponseNorm: size must be a positive int"),
])
def test_layer_constructor_rejects_wrong_types_and_huge_sizes(expr, exc, message):
    with pytest.raises(exc, match=message):
        eval(expr, {}, vars(nn))


@pytest.mark.parametrize("expr, arg, message", [
    ("BatchNorm2d(3)", "x", r"BatchNorm2d: input must be a Tensor, got str"),
    ("InstanceNorm2d(3)", None, r"InstanceNorm2d: input must be a Tensor, got NoneType"),
    ("Flatten()", None, r"Flatten: input must be a Tensor, got NoneType"),
    ("Unflatten(1, (2, 2))", 3, r"Unflatten: input must be a Tensor, got int"),
])
def test_layer_forward_rejects_non_tensor_input(expr, arg, message):
    with pytest.raises(TypeError, match=message):
        eval(expr, {}, vars(nn))(arg)


def _activation_classes():
    from svertka.nn.modules import activation
    return sorted(name for name, cls in vars(activation).items()
                  if isinstance(cls, type) and not name.startswith("_")
                  and cls.__module__ == activation.__name__)


@pytest.mark.parametrize("name", _activation_classes())
def test_activation_module_subclasses_what_torch_subclasses(name):
    # e.g. nn.SiLU is no nn.ReLU in torch, and nn.ReLU6 is an nn.Hardtanh.
    classes = _activation_classes()
    ours = [other for other in classes if issubclass(getattr(nn, name), getattr(nn, other))]
    theirs = [other for other in classes
              if issubclass(getattr(torch.nn, name), getattr(torch.nn, other))]
    assert ours == theirs


@pytest.mark.parametrize("name", ["SiLU", "SELU", "Mish", "Hardsigmoid", "Hardswish", "ReLU6"])
def test_activation_module_is_not_a_relu(name):
    assert not isinstance(getattr(nn, name)(), nn.ReLU)
    assert isinstance(nn.ReLU6(), nn.Hardtanh)
