"""The torchvision-covered models: parameter counts, state_dict keys and shapes, and a forward
pass at a small resolution. Each big model is built once (building allocates and initialises
up to 144M parameters)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.models._torch_ref import TORCH_REFS, meta_layout

import svertka
from svertka import models
from svertka.models.alexnet_vgg import CFGS, make_vgg_layers

# name: (parameters for 1000 classes, number of state_dict entries, {key: shape}, forward size)
# Counts and representative keys are torchvision's; the entries include every batch norm's
# running_mean, running_var and num_batches_tracked. forward size None: too costly to run.
TORCHVISION = {
    "alexnet": (61_100_840, 16, {
        "features.0.weight": (64, 3, 11, 11), "features.3.weight": (192, 64, 5, 5),
        "features.10.bias": (256,), "classifier.1.weight": (4096, 9216),
        "classifier.6.weight": (1000, 4096)}, 63),
    "vgg11": (132_863_336, 22, {
        "features.0.weight": (64, 3, 3, 3), "features.18.weight": (512, 512, 3, 3),
        "classifier.0.weight": (4096, 25088), "classifier.6.bias": (1000,)}, 32),
    "vgg16": (138_357_544, 32, {
        "features.28.weight": (512, 512, 3, 3), "classifier.3.weight": (4096, 4096)}, None),
    "vgg19": (143_667_240, 38, {
        "features.34.weight": (512, 512, 3, 3), "classifier.6.weight": (1000, 4096)}, None),
    "vgg16_bn": (138_365_992, 97, {
        "features.1.running_var": (64,), "features.1.num_batches_tracked": (),
        "features.40.weight": (512, 512, 3, 3), "features.41.bias": (512,),
        "classifier.6.weight": (1000, 4096)}, None),
    "googlenet": (6_624_904, 344, {
        "conv1.conv.weight": (64, 3, 7, 7), "conv1.bn.running_mean": (64,),
        "conv3.conv.weight": (192, 64, 3, 3),
        "inception3a.branch2.1.conv.weight": (128, 96, 3, 3),
        "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),   # torchvision's 3x3 "5x5"
        "inception4a.branch4.1.conv.weight": (64, 480, 1, 1),
        "inception5b.branch1.bn.bias": (384,), "fc.weight": (1000, 1024)}, 32),
    "resnet18": (11_689_512, 122, {
        "conv1.weight": (64, 3, 7, 7), "layer1.0.conv1.weight": (64, 64, 3, 3),
        "layer2.0.downsample.0.weight": (128, 64, 1, 1),
        "layer2.0.downsample.1.running_mean": (128,), "layer4.1.bn2.running_var": (512,),
        "fc.weight": (1000, 512)}, 32),
    "resnet34": (21_797_672, 218, {
        "layer3.5.conv2.weight": (256, 256, 3, 3), "fc.weight": (1000, 512)}, None),
    "resnet50": (25_557_032, 320, {
        "layer1.0.conv1.weight": (64, 64, 1, 1), "layer1.0.conv3.weight": (256, 64, 1, 1),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer2.0.conv2.weight": (128, 128, 3, 3), "layer4.2.conv3.weight": (2048, 512, 1, 1),
        "fc.weight": (1000, 2048)}, 32),
    "resnet101": (44_549_160, 626, {"layer3.22.bn3.weight": (1024,)}, None),
    "resnet152": (60_192_808, 932, {
        "layer2.7.conv1.weight": (128, 512, 1, 1), "layer3.35.bn3.bias": (1024,)}, None),
    "resnext50_32x4d": (25_028_904, 320, {
        "layer1.0.conv1.weight": (128, 64, 1, 1), "layer1.0.conv2.weight": (128, 4, 3, 3),
        "layer4.0.conv2.weight": (1024, 32, 3, 3), "layer4.0.conv3.weight": (2048, 1024, 1, 1),
        "fc.weight": (1000, 2048)}, 32),
    "mobilenet_v2": (3_504_872, 314, {
        "features.0.0.weight": (32, 3, 3, 3), "features.0.1.running_var": (32,),
        "features.1.conv.0.0.weight": (32, 1, 3, 3), "features.1.conv.1.weight": (16, 32, 1, 1),
        "features.1.conv.2.weight": (16,), "features.2.conv.0.0.weight": (96, 16, 1, 1),
        "features.2.conv.1.0.weight": (96, 1, 3, 3), "features.2.conv.2.weight": (24, 96, 1, 1),
        "features.2.conv.3.running_mean": (24,), "features.17.conv.2.weight": (320, 960, 1, 1),
        "features.18.0.weight": (1280, 320, 1, 1), "classifier.1.weight": (1000, 1280)}, 32),
}


def _std_close(w, std, tol=0.05):
    w = w.detach().numpy()
    assert abs(w.std() - std) < tol * std, f"std {w.std():.4g} != {std:.4g}"
    assert abs(w.mean()) < 0.1 * std


# torchvision's initialisations: name -> [(parameter, expected std or 0 for zeros)]
INIT = {
    "vgg11": [("features.3.weight", np.sqrt(2 / (128 * 9))), ("features.3.bias", 0),
              ("classifier.3.weight", 0.01), ("classifier.3.bias", 0)],
    "googlenet": [("inception4a.branch2.1.conv.weight", 0.01), ("fc.weight", 0.01)],
    "mobilenet_v2": [("features.18.0.weight", np.sqrt(2 / 1280)), ("classifier.1.weight", 0.01),
                     ("classifier.1.bias", 0)],
    "resnet50": [("layer2.0.conv2.weight", np.sqrt(2 / (128 * 9))),
                 ("layer3.0.downsample.0.weight", np.sqrt(2 / 1024))],
}


def _layout(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_torchvision_model_layout_counts_and_forward(name):
    count, n_keys, keys, size = TORCHVISION[name]
    model = models.get_model(name)
    assert sum(p.numel() for p in model.parameters()) == count
    layout = _layout(model)
    assert len(layout) == n_keys
    for key, shape in keys.items():
        assert layout.get(key) == shape, f"{key}: {layout.get(key)} != torchvision's {shape}"
    if name in TORCH_REFS:   # the whole layout, in order, equals the torch reference's
        assert list(layout.items()) == list(meta_layout(name).items())
    params = dict(model.named_parameters())
    for key, std in INIT.get(name, []):
        if std == 0:
            np.testing.assert_array_equal(params[key].detach().numpy(), 0)
        else:
            _std_close(params[key], std)
    if size is not None:
        model.eval()
        with svertka.no_grad():
            out = model(svertka.randn(1, 3, size, size))
        assert out.shape == (1, 1000)
        assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("name", ["vgg11_bn", "vgg13", "vgg13_bn", "vgg19_bn"])
def test_vgg_features_layout_matches_torch(name):
    """The other VGGs share the VGG class (checked above); their convolutional parts are
    compared with the torch reference without building the 100M-parameter classifier."""
    cfg = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}[name.split("_")[0]]
    features = make_vgg_layers(CFGS[cfg], batch_norm=name.endswith("_bn"))
    expected = {k[len("features."):]: v for k, v in meta_layout(name).items()
                if k.startswith("features.")}
    assert list(_layout(features).items()) == list(expected.items())


def test_vgg_counts_of_the_other_variants():
    """vgg11_bn, vgg13, vgg13_bn and vgg19_bn counts (torchvision's) from their features plus
    the shared classifier (checked in full with vgg11, vgg16, vgg19 and vgg16_bn)."""
    classifier = 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    expected = {("A", True): 132_868_840, ("B", False): 133_047_848,
                ("B", True): 133_053_736, ("E", True): 143_678_248}
    for (cfg, bn), count in expected.items():
        features = make_vgg_layers(CFGS[cfg], batch_norm=bn)
        assert sum(p.numel() for p in features.parameters()) + classifier == count


def test_googlenet_aux_logits_layout():
    model = models.googlenet(aux_logits=True)
    assert sum(p.numel() for p in model.parameters()) == 13_004_888
    layout = _layout(model)
    assert len(layout) == 364
    assert list(layout.items()) == list(meta_layout("googlenet_aux").items())
    assert layout["aux1.conv.conv.weight"] == (128, 512, 1, 1)
    assert layout["aux2.conv.conv.weight"] == (128, 528, 1, 1)
    assert layout["aux1.fc1.weight"] == (1024, 2048)
    assert layout["aux2.fc2.bias"] == (1000,)
    model.train()
    out = model(svertka.randn(2, 3, 32, 32))
    assert isinstance(out, models.GoogLeNetOutputs)
    assert [o.shape for o in out] == [(2, 1000)] * 3
    model.eval()
    with svertka.no_grad():
        assert model(svertka.randn(1, 3, 32, 32)).shape == (1, 1000)


def test_resnet50_loads_a_torchvision_state_dict_strictly():
    """A state_dict in torchvision's layout, as NumPy arrays (built from the torch reference on
    the meta device: names and shapes only), loads with strict=True into the right places."""
    model = models.resnet50()
    rng = np.random.default_rng(0)
    state = {k: (rng.standard_normal(s).astype(np.float32) if s else np.array(3))
             for k, s in meta_layout("resnet50").items()}
    result = model.load_state_dict(state, strict=True)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    np.testing.assert_array_equal(model.layer3[4].conv2.weight.detach().numpy(),
                                  state["layer3.4.conv2.weight"])
    np.testing.assert_array_equal(model.fc.bias.detach().numpy(), state["fc.bias"])
    assert int(model.layer1[0].bn1.num_batches_tracked.numpy()) == 3


def test_resnet_init_is_torchvisions():
    """Kaiming normal (fan_out, ReLU) convolutions, batch norms 1/0, zero_init_residual."""
    svertka.manual_seed(0)
    model = models.resnet18(zero_init_residual=True)
    w = model.layer3[0].conv2.weight.detach().numpy()       # (256, 256, 3, 3): fan_out = 256 * 9
    assert abs(w.std() - np.sqrt(2 / (256 * 9))) < 0.02 * np.sqrt(2 / (256 * 9))
    assert abs(w.mean()) < 1e-3
    np.testing.assert_array_equal(model.bn1.weight.detach().numpy(), 1)
    np.testing.assert_array_equal(model.layer1[1].bn2.weight.detach().numpy(), 0)
    np.testing.assert_array_equal(model.layer1[1].bn1.weight.detach().numpy(), 1)
