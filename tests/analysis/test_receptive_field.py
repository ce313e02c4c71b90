"""Receptive fields: the recurrence against hand derivations and the gradient measurement."""

import pytest

import svertka
from svertka import models, nn
from svertka.analysis import ReceptiveField, empirical_receptive_field, receptive_field
from svertka.nn import functional as F


class Residual(nn.Module):
    """y = conv3(conv3(x)) + conv1x1(x): the merge must keep the larger field (5)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 2, 3, padding=1)
        self.b = nn.Conv2d(2, 2, 3, padding=1)
        self.short = nn.Conv2d(1, 2, 1)

    def forward(self, x):
        return F.relu(self.b(F.relu(self.a(x))) + self.short(x))


class Branches(nn.Module):
    """Inception-like: cat of a 1x1 and a 5x5 branch, then a 3x3 on the concatenation."""

    def __init__(self):
        super().__init__()
        self.b1 = nn.Conv2d(1, 2, 1)
        self.b5 = nn.Conv2d(1, 2, 5, padding=2)
        self.head = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, x):
        return self.head(svertka.cat([self.b1(x), self.b5(x)], dim=1))


def _seq(*layers):
    return lambda: nn.Sequential(*layers)


HAND = [
    # builder, input size, expected (size, jump, start)
    pytest.param(_seq(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), (1, 12, 12),
                 ((7, 7), (1, 1), (3, 3)), id="three-3x3-see-7x7"),
    pytest.param(_seq(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(3)]), (1, 12, 12),
                 ((7, 7), (1, 1), (0, 0)), id="three-3x3-padded"),
    pytest.param(_seq(nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3)), (1, 12, 12),
                 ((7, 7), (2, 2), (3, 3)), id="stride-2-then-3x3"),
    pytest.param(_seq(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3)),
                 (1, 12, 12), ((8, 8), (2, 2), (2.5, 2.5)), id="conv-pool-conv"),
    pytest.param(_seq(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3, dilation=2),
                      nn.Conv2d(1, 1, 3, dilation=4)), (1, 20, 20),
                 ((15, 15), (1, 1), (7, 7)), id="dilated-1-2-4"),
    pytest.param(_seq(nn.Conv2d(1, 1, (3, 5), stride=(1, 2)), nn.AvgPool2d((2, 3))),
                 (1, 12, 15), ((4, 9), (2, 6), (1.5, 4)), id="anisotropic"),
    pytest.param(_seq(nn.Conv1d(1, 1, 5, stride=2), nn.AvgPool1d(3, stride=3, padding=1)),
                 (1, 30), ((9,), (6,), (2,)), id="1d-conv-avgpool"),
    pytest.param(_seq(nn.ZeroPad2d(2), nn.Conv2d(1, 1, 3)), (1, 8, 8),
                 ((3, 3), (1, 1), (-1, -1)), id="pad-layer"),
    # F.pad pads the last axes only: a 1-D pad layer given an image pads its width
    pytest.param(_seq(nn.ConstantPad1d((2, 0), 0.0), nn.Conv2d(1, 1, 3)), (1, 8, 8),
                 ((3, 3), (1, 1), (1, -1)), id="pad-1d-layer-on-an-image"),
    pytest.param(_seq(nn.Conv2d(1, 1, 3), nn.AdaptiveAvgPool2d(3)), (1, 8, 8),
                 ((4, 4), (2, 2), (1.5, 1.5)), id="adaptive-exact"),
    pytest.param(_seq(nn.Conv3d(1, 1, 3, stride=2), nn.MaxPool3d(2)), (1, 9, 9, 9),
                 ((5, 5, 5), (4, 4, 4), (2, 2, 2)), id="3d"),
    pytest.param(Residual, (1, 10, 10), ((5, 5), (1, 1), (0, 0)), id="residual-takes-max"),
    pytest.param(Branches, (1, 10, 10), ((7, 7), (1, 1), (0, 0)), id="cat-takes-max"),
    pytest.param(_seq(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2), nn.Conv2d(1, 1, 3)),
                 (1, 16, 16), ((4, 4), (0.5, 0.5), (1.5, 1.5)), id="upsample-nearest"),
    pytest.param(_seq(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2, mode="bilinear"),
                      nn.Conv2d(1, 1, 3)),
                 (1, 16, 16), ((5, 5), (0.5, 0.5), (1.25, 1.25)), id="upsample-bilinear"),
    pytest.param(_seq(nn.Conv2d(1, 1, 3), nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1)),
                 (1, 8, 8), ((4, 4), (0.5, 0.5), (0.75, 0.75)), id="transposed"),
]


@pytest.mark.parametrize("build, input_size, expected", HAND)
def test_receptive_field_matches_hand_derivation(build, input_size, expected):
    assert receptive_field(build(), input_size) == ReceptiveField(*expected)


def _positive(model):
    """Constant positive weights (1 / fan-in), norm scales 1 and zero biases: activations stay
    positive and near 1 (below ReLU6's cap), so no gradient is zero by chance."""
    for name, p in model.named_parameters():
        fan = p.numel() // p.shape[0] if p.ndim > 1 else 1
        p.data.fill_(0.0 if name.endswith("bias") else 1.0 / fan)
    return model


def _avg_pools(model):
    """Max pooling passes gradient to one tap per window: measure with average pooling."""
    kinds = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d, nn.MaxPool3d: nn.AvgPool3d}
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if type(child) in kinds:
                setattr(parent, name, kinds[type(child)](
                    child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode))
    return model


@pytest.mark.parametrize("build, input_size, expected", [
    p for p in HAND if p.id not in ("transposed", "pad-layer", "pad-1d-layer-on-an-image",
                                    "adaptive-exact")])
def test_empirical_receptive_field_agrees_with_formula(build, input_size, expected):
    model = _avg_pools(_positive(build()))
    assert empirical_receptive_field(model, input_size) == expected[0]


ZOO = [
    # model name, kwargs, input size, layer
    pytest.param("lenet5", {}, (1, 32, 32), "features", id="lenet5"),
    pytest.param("lecture_cnn", {}, (3, 32, 32), "7", id="lecture_cnn"),
    pytest.param("resnet20", {}, (3, 64, 64), "layer2", id="resnet20-layer2"),
    pytest.param("resnet20", {"shortcut": "B"}, (3, 40, 40), "layer1", id="resnet20-B-layer1"),
    pytest.param("googlenet", {"num_classes": 10}, (3, 96, 96), "inception3a", id="googlenet"),
    pytest.param("nin", {}, (3, 32, 32), "features.6", id="nin"),
    pytest.param("gated_cnn", {}, (1, 64), None, id="gated_cnn"),
    pytest.param("wavenet_stack", {"num_layers": 4, "num_classes": 8}, (1, 40), None,
                 id="wavenet"),
    pytest.param("mobilenet_v2", {"num_classes": 10}, (3, 64, 64), "features.4",
                 id="mobilenet_v2"),
    pytest.param("unet", {"base": 4, "depth": 2}, (1, 64, 64), None, id="unet-transposed"),
]


@pytest.mark.parametrize("name, kwargs, input_size, layer", ZOO)
def test_receptive_field_of_zoo_models_agrees_with_gradients(name, kwargs, input_size, layer):
    assert name in models.list_models()
    model = _avg_pools(_positive(models.get_model(name, **kwargs)))
    formula = receptive_field(model, input_size, layer)
    assert all(r <= s for r, s in zip(formula.size, input_size[1:])), "field clipped: enlarge"
    assert empirical_receptive_field(model, input_size, layer) == formula.size


def test_receptive_field_of_wavenet_equals_its_own_count():
    assert "wavenet_stack" in models.list_models()
    model = models.get_model("wavenet_stack", num_layers=6, num_classes=4)
    assert receptive_field(model, (1, 128)).size == (model.receptive_field,)


def test_receptive_field_layer_selects_a_module():
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 5), nn.Flatten())
    assert receptive_field(net, (1, 12, 12), layer="0").size == (3, 3)
    assert receptive_field(net, (1, 12, 12)).size == (7, 7)   # the last spatial output


def test_empirical_receptive_field_clips_at_the_border_and_restores_train_mode():
    net = _positive(nn.Sequential(nn.Conv2d(1, 1, 5, padding=2), nn.BatchNorm2d(1)))
    assert empirical_receptive_field(net, (1, 9, 9), unit=(0, 4)) == (3, 5)
    assert net.training


def test_receptive_field_rejects_bad_arguments():
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten())
    with pytest.raises(TypeError, match="receptive_field: input_size must be a tuple of ints"):
        receptive_field(net, "1x8x8")
    with pytest.raises(ValueError, match=r"input_size must be a non-empty tuple of positive"):
        receptive_field(net, (1, 0, 8))
    with pytest.raises(ValueError, match="no module named 'conv9' was called"):
        receptive_field(net, (1, 8, 8), layer="conv9")
    with pytest.raises(ValueError, match="empirical_receptive_field: the output of '1' is not "
                                         "spatial"):
        empirical_receptive_field(net, (1, 8, 8), layer="1")
    with pytest.raises(ValueError, match=r"unit \(6, 0\) is outside the output"):
        empirical_receptive_field(net, (1, 8, 8), layer="0", unit=(6, 0))
    with pytest.raises(ValueError, match="has no spatial layer"):
        receptive_field(nn.Sequential(nn.Linear(4, 2)), (4,))


@pytest.mark.parametrize("padding, low", [("same", 1), ("valid", 0), (2, 2)])
def test_layer_geometry_of_conv_reads_its_public_padding(padding, low):
    # torch's internal _reversed_padding_repeated_twice is not part of the contract: a conv
    # without it (as a conv module built elsewhere may be) still has its geometry.
    from svertka.analysis.receptive_field import layer_geometry
    conv = nn.Conv2d(1, 1, 4, padding=padding)
    conv.__dict__.pop("_reversed_padding_repeated_twice", None)
    g = layer_geometry(conv, ReceptiveField((1, 1), (1, 1), (0, 0)), (8, 8), (8, 8))
    assert g == ReceptiveField((4, 4), (1, 1), (1.5 - low, 1.5 - low))  # the window centre
