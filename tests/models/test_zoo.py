"""The model zoo: registry, parameter counts, output shapes (classification, detection,
segmentation and sequence heads), smoke training, causality of the 1-D models, argument
checks. The torchvision layouts are in test_torchvision_layout.py."""

from __future__ import annotations

import numpy as np
import pytest

import svertka
from svertka import models, optim
from svertka.models import registry
from svertka.models.mobilenet import InvertedResidual
from svertka.models.resnet import BasicBlock
from svertka.nn import functional as F

EXPECTED_NAMES = {
    "lenet5", "lecture_cnn", "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
    "vgg16_bn", "vgg19", "vgg19_bn", "googlenet", "resnet18", "resnet34", "resnet50",
    "resnet101", "resnet152", "resnext50_32x4d", "mobilenet_v2", "resnet20", "resnet32",
    "resnet44", "resnet56", "resnet110", "nin", "mobilenet_v1", "unet", "darknet19", "yolo_v2",
    "wavenet_stack", "gated_cnn"}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------- registry
def test_list_models_names_every_architecture():
    names = models.list_models()
    assert names == sorted(names)
    assert EXPECTED_NAMES <= set(names)


def test_get_model_rejects_unknown_name_listing_the_available():
    with pytest.raises(ValueError, match=r"get_model: unknown model 'resnet9000'; available: "
                                         r"alexnet, darknet19, "):
        models.get_model("resnet9000")


def test_get_model_rejects_in_channels_of_fixed_input_models(monkeypatch):
    """A builder without in_channels: the argument is dropped when it matches the recorded
    input size, rejected otherwise."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    models.register("zz_fixed", (1, 8, 8), "test only")(lambda num_classes=10: num_classes)
    assert models.get_model("zz_fixed", num_classes=3, in_channels=1, input_size=(1, 8, 8)) == 3
    with pytest.raises(ValueError, match="get_model: model 'zz_fixed' takes 1-channel inputs, "
                                         "got in_channels=3"):
        models.get_model("zz_fixed", in_channels=3)


def test_register_rejects_duplicate_names():
    with pytest.raises(ValueError, match="register: a model named 'resnet20' is already"):
        models.register("resnet20", (3, 32, 32), "again")(models.resnet20)


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_model_info_records_input_size_and_description(name):
    info = models.model_info(name)
    assert isinstance(info["input_size"], tuple) and len(info["input_size"]) in (2, 3)
    assert all(isinstance(s, int) and s > 0 for s in info["input_size"])
    assert isinstance(info["description"], str) and 10 < len(info["description"]) <= 100
    assert callable(info["builder"]) and info["builder"].__doc__


# ---------------------------------------------------------------------- counts
def _unet_count(cin, classes, base, depth, upsample):
    """U-Net parameters by hand: double convolutions (3x3 with bias), up-sampling steps
    (2x2 transposed or 1x1 convolutions halving the channels), the 1x1 head."""
    def double(a, b):
        return a * b * 9 + b + b * b * 9 + b
    w = [base * 2 ** i for i in range(depth + 1)]
    total = double(cin, w[0]) + sum(double(w[i], w[i + 1]) for i in range(depth))
    k = 4 if upsample == "transpose" else 1
    for i in range(depth):
        total += w[i + 1] * w[i] * k + w[i] + double(w[i + 1], w[i])
    return total + base * classes + classes


@pytest.mark.parametrize("name,kwargs,expected", [
    ("resnet20", {}, 269_722),                 # option A: no shortcut parameters
    ("resnet20", {"shortcut": "B"}, 272_474),  # + 1x1 projections 16->32, 32->64 with BN
    ("resnet32", {}, 464_154),
    ("resnet44", {}, 658_586),
    ("resnet56", {}, 853_018),
    ("resnet110", {}, 1_727_962),
    ("lenet5", {}, 61_706),
    ("lenet5", {"classic": True}, 61_706),
    ("lecture_cnn", {}, 113_738),
    ("nin", {}, 966_986),
    ("mobilenet_v1", {}, 4_231_976),
    ("mobilenet_v1", {"width_mult": 0.5}, 1_331_592),
    ("darknet19", {}, 20_842_376),
    ("yolo_v2", {}, 50_655_389),
    ("unet", {}, _unet_count(1, 2, 64, 4, "transpose")),
    ("unet", {"in_channels": 3, "num_classes": 5, "base": 8, "depth": 3,
              "upsample": "bilinear"}, _unet_count(3, 5, 8, 3, "bilinear")),
], ids=lambda v: v if isinstance(v, str) else None)
def test_model_parameter_count(name, kwargs, expected):
    assert n_params(models.get_model(name, **kwargs)) == expected


def test_resnet_cifar_counts_by_hand():
    """ResNet-20, option A, from the layer shapes: stem, three stages of 3 blocks, the head."""
    def conv_bn(a, b):
        return a * b * 9 + 2 * b
    stem = conv_bn(3, 16)
    stage1 = 3 * 2 * conv_bn(16, 16)
    stage2 = conv_bn(16, 32) + conv_bn(32, 32) + 2 * 2 * conv_bn(32, 32)
    stage3 = conv_bn(32, 64) + conv_bn(64, 64) + 2 * 2 * conv_bn(64, 64)
    assert stem + stage1 + stage2 + stage3 + 64 * 10 + 10 == 269_722


# ---------------------------------------------------------------------- shapes
SHAPES = [
    # id, name, kwargs, input shape, output shape
    ("lenet5_digits_8x8", "lenet5", {}, (2, 1, 8, 8), (2, 10)),
    ("lenet5_mnist_28x28", "lenet5", {}, (2, 1, 28, 28), (2, 10)),
    ("lenet5_classic_32x32_rgb", "lenet5", {"classic": True, "in_channels": 3},
     (1, 3, 32, 32), (1, 10)),
    ("lecture_cnn", "lecture_cnn", {}, (2, 3, 32, 32), (2, 10)),
    ("resnet20_5_classes", "resnet20", {"num_classes": 5}, (2, 3, 32, 32), (2, 5)),
    ("resnet56_grey", "resnet56", {"in_channels": 1}, (2, 1, 8, 8), (2, 10)),
    ("nin", "nin", {}, (2, 3, 32, 32), (2, 10)),
    ("nin_smallest", "nin", {"num_classes": 4}, (2, 3, 7, 7), (2, 4)),
    ("mobilenet_v1_quarter", "mobilenet_v1", {"num_classes": 10, "width_mult": 0.25},
     (2, 3, 32, 32), (2, 10)),
    ("mobilenet_v2_half", "mobilenet_v2", {"num_classes": 10, "width_mult": 0.5},
     (2, 3, 32, 32), (2, 10)),
    ("googlenet_grey_32", "googlenet", {"num_classes": 10, "in_channels": 1},
     (2, 1, 32, 32), (2, 10)),
    ("lecture_cnn_digits", "lecture_cnn", {"in_channels": 1, "input_size": (1, 8, 8)},
     (2, 1, 8, 8), (2, 10)),
    ("lecture_cnn_24x16", "lecture_cnn", {"input_size": (3, 24, 16)}, (1, 3, 24, 16), (1, 10)),
    ("darknet19", "darknet19", {"num_classes": 10}, (2, 3, 32, 32), (2, 10)),
    ("yolo_v2_64", "yolo_v2", {"num_classes": 3, "num_anchors": 2}, (2, 3, 64, 64),
     (2, 16, 2, 2)),
    ("yolo_v2_voc_nonsquare", "yolo_v2", {}, (1, 3, 96, 64), (1, 125, 3, 2)),
    ("unet_same_size", "unet", {"in_channels": 3, "num_classes": 4, "base": 4, "depth": 3},
     (2, 3, 24, 24), (2, 4, 24, 24)),
    ("unet_bilinear_odd_size", "unet", {"num_classes": 3, "base": 4, "depth": 3,
                                        "upsample": "bilinear"}, (1, 1, 17, 13), (1, 3, 17, 13)),
    ("unet_paper_geometry_572", "unet", {"base": 2, "depth": 4, "padding": False},
     (1, 1, 572, 572), (1, 2, 388, 388)),
    ("unet_valid_depth1", "unet", {"base": 2, "depth": 1, "padding": False},
     (1, 1, 20, 20), (1, 2, 4, 4)),
    ("wavenet_stack", "wavenet_stack", {"num_classes": 16, "residual_channels": 8,
                                        "dilation_channels": 8, "skip_channels": 8},
     (2, 1, 40), (2, 16, 40)),
    ("wavenet_two_stacks_k3", "wavenet_stack", {"in_channels": 2, "num_classes": 3,
                                                "num_layers": 3, "num_stacks": 2,
                                                "kernel_size": 3}, (1, 2, 5), (1, 3, 5)),
    ("gated_cnn", "gated_cnn", {"in_channels": 4, "num_classes": 6, "channels": 8},
     (2, 4, 30), (2, 6, 30)),
    ("gated_cnn_length_1", "gated_cnn", {}, (3, 1, 1), (3, 10, 1)),
]


@pytest.mark.parametrize("name,kwargs,shape,out_shape", [s[1:] for s in SHAPES],
                         ids=[s[0] for s in SHAPES])
def test_model_output_shape(name, kwargs, shape, out_shape):
    svertka.manual_seed(0)
    model = models.get_model(name, **kwargs)
    with svertka.no_grad():
        out = model(svertka.randn(*shape))
    assert out.shape == out_shape
    assert out.dtype == svertka.float32
    assert np.isfinite(out.numpy()).all()


def test_get_model_accepts_the_cli_arguments():
    """The CLI calls get_model(name, num_classes=..., in_channels=..., input_size=...)."""
    for name in ("lenet5", "lecture_cnn", "resnet20", "resnet18", "nin", "mobilenet_v1",
                 "mobilenet_v2"):
        model = models.get_model(name, num_classes=10, in_channels=1, input_size=(1, 8, 8))
        assert model(svertka.randn(2, 1, 8, 8)).shape == (2, 10), name


# ---------------------------------------------------------------------- smoke training
def _classification(out, n, classes):
    target = svertka.tensor(np.arange(n) % classes)
    return F.cross_entropy(out, target)


def _dense(out, n, classes):          # per-pixel / per-step classes: (N, C, ...) scores
    rng = np.random.default_rng(0)
    target = svertka.tensor(rng.integers(0, out.shape[1], (n, *out.shape[2:])))
    return F.cross_entropy(out, target)


def _regression(out, n, classes):     # detection head against a fixed target map
    target = svertka.tensor(np.random.default_rng(0).standard_normal(out.shape).astype(np.float32))
    return F.mse_loss(out, target)


TRAIN = [
    # id, name, kwargs, input shape, loss
    ("lenet5_digits", "lenet5", {}, (4, 1, 8, 8), _classification),
    ("lenet5_classic", "lenet5", {"classic": True}, (4, 1, 32, 32), _classification),
    ("lecture_cnn", "lecture_cnn", {}, (4, 3, 32, 32), _classification),
    ("resnet20", "resnet20", {}, (4, 3, 16, 16), _classification),
    ("resnet18", "resnet18", {"num_classes": 10}, (8, 3, 32, 32), _classification),
    ("nin", "nin", {}, (4, 3, 16, 16), _classification),
    ("mobilenet_v1", "mobilenet_v1", {"num_classes": 10, "width_mult": 0.25}, (8, 3, 32, 32),
     _classification),
    ("mobilenet_v2", "mobilenet_v2", {"num_classes": 10, "width_mult": 0.25}, (8, 3, 32, 32),
     _classification),
    ("googlenet", "googlenet", {"num_classes": 10}, (8, 3, 32, 32), _classification),
    ("darknet19", "darknet19", {"num_classes": 10}, (8, 3, 32, 32), _classification),
    ("yolo_v2", "yolo_v2", {"num_classes": 2, "num_anchors": 1}, (2, 3, 64, 64), _regression),
    ("unet", "unet", {"num_classes": 3, "base": 4, "depth": 2}, (2, 1, 16, 16), _dense),
    ("wavenet_stack", "wavenet_stack", {"num_classes": 8, "residual_channels": 8,
                                        "dilation_channels": 8, "skip_channels": 8,
                                        "num_layers": 4}, (2, 1, 16), _dense),
    ("gated_cnn", "gated_cnn", {"channels": 8}, (2, 1, 16), _dense),
]


@pytest.mark.parametrize("name,kwargs,shape,loss_fn", [t[1:] for t in TRAIN],
                         ids=[t[0] for t in TRAIN])
def test_model_one_sgd_step_lowers_the_loss(name, kwargs, shape, loss_fn):
    # the gradient must be a descent direction: a small enough SGD step lowers the loss (a
    # deep net with BatchNorm may need a step below 0.01; each try starts from the same weights)
    svertka.manual_seed(0)
    model = models.get_model(name, **kwargs).train()
    x = svertka.randn(*shape)
    start = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    def loss():
        svertka.manual_seed(1)         # the same dropout masks in both passes
        return loss_fn(model(x), shape[0], 10)

    results = []
    for lr in (1e-2, 1e-3, 1e-4, 1e-5):
        model.load_state_dict(start)
        opt = optim.SGD(model.parameters(), lr=lr)
        before = loss()
        opt.zero_grad()
        before.backward()
        assert all(p.grad is not None for p in model.parameters())
        opt.step()
        with svertka.no_grad():
            after = loss()
        results.append((lr, float(before.item()), float(after.item())))
        if results[-1][2] < results[-1][1]:
            return
    raise AssertionError(f"no SGD step lowered the loss: {results}")


# ---------------------------------------------------------------------- causality
@pytest.mark.parametrize("name,kwargs,receptive_field", [
    ("wavenet_stack", {"num_classes": 3, "residual_channels": 4, "dilation_channels": 4,
                       "skip_channels": 16, "num_layers": 3}, 9),
    ("wavenet_stack", {"num_classes": 3, "residual_channels": 4, "dilation_channels": 4,
                       "skip_channels": 16, "num_layers": 2, "num_stacks": 2,
                       "kernel_size": 3}, 15),
    ("gated_cnn", {"channels": 4, "num_layers": 2, "kernel_size": 3}, 7),
], ids=["wavenet_k2_3_layers", "wavenet_k3_2x2_layers", "gated_cnn_k3_2_layers"])
def test_sequence_model_is_causal_with_its_receptive_field(name, kwargs, receptive_field):
    """d out[:, :, t] / d x is zero after t and before t - receptive_field + 1."""
    svertka.manual_seed(0)
    model = models.get_model(name, **kwargs)
    if hasattr(model, "receptive_field"):
        assert model.receptive_field == receptive_field
    length, t = 24, 20
    x = svertka.randn(1, 1, length, dtype=svertka.float64, requires_grad=True)
    model.double()
    model(x)[:, :, t].sum().backward()
    g = np.abs(x.grad.numpy()[0, 0])
    assert np.all(g[t + 1:] == 0)
    assert np.all(g[:t - receptive_field + 1] == 0)
    assert g[t] > 0 and g[t - receptive_field + 1] > 0


def test_yolo_v2_passthrough_reaches_the_fine_map():
    """The stride-16 features reach the prediction through the passthrough (its gradient
    is non-zero), and the output channels are anchor-major A x (5 + C)."""
    svertka.manual_seed(0)
    model = models.yolo_v2(num_classes=2, num_anchors=3)
    assert model.pred.out_channels == 3 * (5 + 2)
    out = model(svertka.randn(2, 3, 32, 32))
    out.sum().backward()
    assert np.abs(model.passthrough[0][0].weight.grad.numpy()).sum() > 0


# ---------------------------------------------------------------------- argument checks
@pytest.mark.parametrize("fn,kwargs,match", [
    (models.CifarResNet, {"depth": 21}, r"CifarResNet: depth must be 6n \+ 2 with n >= 1, got "
                                        r"depth=21"),
    (models.CifarResNet, {"depth": 2}, r"got depth=2"),
    (models.resnet20, {"shortcut": "C"}, r"shortcut must be 'A' or 'B', got shortcut='C'"),
    (models.unet, {"upsample": "nearest"}, r"unet: upsample must be 'transpose' or 'bilinear', "
                                           r"got upsample='nearest'"),
    (models.unet, {"depth": 0}, r"unet: depth must be a positive int, got depth=0"),
    (models.unet, {"base": 0}, r"unet: base must be a positive int, got base=0"),
    (models.mobilenet_v1, {"width_mult": 0}, r"mobilenet_v1: width_mult must be positive, got "
                                             r"width_mult=0"),
    (lambda **k: InvertedResidual(8, 8, **k), {"stride": 3, "expand_ratio": 6},
     r"InvertedResidual: stride must be 1 or 2, got stride=3"),
    (lambda **k: BasicBlock(8, 8, **k), {"groups": 2},
     r"BasicBlock: only groups=1 and base_width=64 are supported, got groups=2"),
    (models.lecture_cnn, {"input_size": (3, 8, 4)}, r"lecture_cnn: inputs must be at least 8x8 "
                                                    r"\(three 2x2 poolings\), got "
                                                    r"input_size=\(3, 8, 4\)"),
], ids=["cifar_depth_not_6n2", "cifar_depth_too_small", "cifar_shortcut", "unet_upsample",
        "unet_depth", "unet_base", "mobilenet_v1_width", "inverted_residual_stride",
        "basic_block_groups", "lecture_cnn_too_small"])
def test_model_rejects_bad_arguments(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)


def test_googlenet_on_8x8_fails_like_torch_with_a_clear_error():
    # GoogLeNet's fourth ceil-mode pooling meets a 1x1 map on 8x8 inputs; torch refuses it too
    model = models.googlenet(num_classes=10, in_channels=1).eval()
    with svertka.no_grad():
        with pytest.raises(ValueError, match=r"max_pool2d: output size \(0, 0\) is too small"):
            model(svertka.zeros(2, 1, 8, 8))
        assert model(svertka.zeros(1, 1, 16, 16)).shape == (1, 10)


def test_lenet5_pads_28x28_inputs_as_a_padded_first_convolution_in_torch():
    # LeCun et al. centred the 28x28 digits in a 32x32 field: svertka's LeNet-5 on 28x28
    # equals torch's with padding=2 in its first convolution (same weights, float64, with
    # the input gradient), and 32x32 inputs still go straight into the layers
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    ref = tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(6, 16, 5),
        tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(),
        tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10)).double()
    model = models.lenet5().double()
    names = [k for k in model.state_dict()]
    model.load_state_dict({k: svertka.tensor(v.numpy()) for k, v in
                           zip(names, ref.state_dict().values())})
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28))
    gy = np.random.default_rng(1).standard_normal((3, 10))
    xs = svertka.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ys, yt = model(xs), ref(xt)
    ys.backward(svertka.tensor(gy))
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    ref[0].padding = (0, 0)
    x32 = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    np.testing.assert_allclose(model(svertka.tensor(x32)).detach().numpy(),
                               ref(torch.tensor(x32)).detach().numpy(), rtol=1e-10, atol=1e-12)
    assert names == ["features.0.weight", "features.0.bias", "features.3.weight",
                     "features.3.bias", "classifier.1.weight", "classifier.1.bias",
                     "classifier.3.weight", "classifier.3.bias", "classifier.5.weight",
                     "classifier.5.bias"]
