"""svertka.onnx.export: every zoo model through onnx.checker and onnxruntime, dynamic axes,
files and file objects, names of initializers, and the errors (unsupported ops, values computed
outside the graph, bad arguments)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

import svertka
from svertka import models, nn
from svertka.models.alexnet_vgg import CFGS, VGG, make_vgg_layers
from svertka.onnx import UnsupportedOperatorError, export

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

RTOL = 1e-4

# The smallest inputs that keep every op of the model meaningful (strides, ceil-mode pools,
# adaptive pools that replicate a 1x1 map): the zoo's ImageNet sizes would make the file slow.
SIZES = {"alexnet": (3, 63, 63), "googlenet": (3, 32, 32), "unet": (1, 16, 16)}
# models built for their registered input size (their constructor's default differs)
KWARGS = {"hog-softmax": {"input_size": (1, 8, 8)}}
ZOO = models.list_models()


def _size(name):
    if name in SIZES:
        return SIZES[name]
    size = models.model_info(name)["input_size"]
    return size if max(size[1:]) <= 64 else (size[0], 32, 32)


def _narrow_classifier(model, width=64):
    """The fully connected head of AlexNet and VGG (over 100M parameters, most of the export
    time) with the same layers at ``width`` hidden features: the ops stay the zoo's."""
    layers, prev = [], None
    linears = [m for m in model.classifier if isinstance(m, nn.Linear)]
    for m in model.classifier:
        if isinstance(m, nn.Linear):
            last = m is linears[-1]
            m = nn.Linear(prev or m.in_features, m.out_features if last else width)
            prev = m.out_features
        layers.append(m)
    model.classifier = nn.Sequential(*layers)
    return model


def _build(name):
    if name.startswith("vgg"):
        # torchvision's initialisation of 100M weights takes seconds: the default one here
        cfg = {"11": "A", "13": "B", "16": "D", "19": "E"}[name[3:5]]
        model = VGG(make_vgg_layers(CFGS[cfg], batch_norm=name.endswith("_bn")),
                    init_weights=False)
        return _narrow_classifier(model)
    model = models.get_model(name, **KWARGS.get(name, {}))
    return _narrow_classifier(model) if name == "alexnet" else model


def _run(data, x, name="input"):
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, {name: x})


def _rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30))


def _export_bytes(model, x, **kwargs):
    buf = io.BytesIO()
    export(model, x, buf, **kwargs)
    return buf.getvalue()


def _with_running_stats(model):
    """Batch norms with non-trivial running statistics, so eval mode matters."""
    rng = np.random.default_rng(0)
    for name, b in model.named_buffers():
        if name.endswith("running_mean"):
            b._data[...] = rng.normal(0, 0.1, b.shape).astype(b._data.dtype)
        elif name.endswith("running_var"):
            b._data[...] = rng.uniform(0.5, 1.5, b.shape).astype(b._data.dtype)
    return model


@pytest.mark.parametrize("name", ZOO)
def test_export_zoo_model_matches_onnxruntime(name):
    svertka.manual_seed(0)
    model = _with_running_stats(_build(name))
    model.train()                                   # export traces in eval mode, then restores
    x = svertka.randn(2, *_size(name))
    data = _export_bytes(model, x)
    assert model.training                           # (export ran onnx.checker on the model)
    model.eval()
    with svertka.no_grad():
        want = model(x).numpy()
    (got,) = _run(data, x.numpy())
    assert got.shape == want.shape and np.std(want) > 0
    assert _rel_err(got, want) < RTOL


def _digit_like(rng, n, size):
    """Integer grey levels 0..16 as the digits: exact ties between channels, gradients along
    the axes and at 45 degrees, flat regions (the cases a float32 binning could get wrong)."""
    x = rng.integers(0, 17, (n, *size)).astype(np.float32)
    x[0] = 0
    x[1, :, :, : size[2] // 2] = 5
    if size[0] > 1:
        x[2] = x[2, :1]
    return x


@pytest.mark.parametrize("input_size, block_norm", [
    ((1, 8, 8), "L2"), ((1, 28, 28), "L1-sqrt"), ((3, 32, 32), "L2-Hys"), ((3, 13, 17), "L1"),
], ids=["digits", "mnist-L1-sqrt", "colour-L2-Hys", "colour-odd-L1"])
def test_export_hog_softmax_matches_numpy_hog_in_onnxruntime(input_size, block_norm):
    """The HOG features are traced (convolutions, atan2, step functions, pooling), so the file
    computes scikit-image's descriptor: onnxruntime against the NumPy ``hog_batch`` followed
    by the linear layer, for two batch sizes of a dynamic batch axis."""
    from svertka.vision import hog_batch

    svertka.manual_seed(0)
    model = models.get_model("hog-softmax", in_channels=input_size[0], input_size=input_size,
                             block_norm=block_norm)
    data = _export_bytes(model, svertka.rand(2, *input_size),
                         dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    onnx.checker.check_model(data, full_check=True)
    rng = np.random.default_rng(0)
    w, b = (p.detach().numpy() for p in (model.classifier.weight, model.classifier.bias))
    for x in (_digit_like(rng, 5, input_size), rng.random((1, *input_size), np.float32)):
        feats = hog_batch(x[:, 0] if input_size[0] == 1 else x, model.orientations,
                          model.pixels_per_cell, model.cells_per_block, block_norm)
        want = feats @ w.T + b
        (got,) = _run(data, x)
        assert got.shape == want.shape
        assert _rel_err(got, want) < RTOL


def test_export_atan2_matches_numpy_in_every_quadrant_and_on_the_axes(tmp_path):
    """ONNX has no Atan2: the translation's Atan of the quotient, moved by quadrant, with the
    axes (``b == 0``, including ``atan2(0, 0) == 0``) as special cases; read back too."""
    class Angle(nn.Module):
        def forward(self, a, b):
            return a.atan2(b), a.sign()

    v = np.array([-2.0, -1.0, 0.0, 0.5, 3.0], np.float32)
    a, b = (np.ascontiguousarray(m) for m in np.meshgrid(v, v, indexing="ij"))
    path = tmp_path / "atan2.onnx"
    export(Angle(), (svertka.tensor(a), svertka.tensor(b)), path, input_names=["a", "b"])
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got, sign = sess.run(None, {"a": a, "b": b})
    np.testing.assert_allclose(got, np.arctan2(a, b), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(sign, np.sign(a))
    back, _ = svertka.onnx.load(path)(a, b)
    np.testing.assert_allclose(back.detach().numpy(), np.arctan2(a, b), rtol=1e-6, atol=1e-7)


def test_export_dynamic_batch_runs_two_batch_sizes():
    svertka.manual_seed(0)
    model = models.resnet20()                       # flatten, strided slices, channel padding
    data = _export_bytes(model, svertka.randn(2, 3, 8, 8),
                         dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    onnx.checker.check_model(data, full_check=True)          # with shape inference
    graph = onnx.load_from_string(data).graph
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    model.eval()
    for n in (1, 5):
        x = svertka.randn(n, 3, 8, 8)
        with svertka.no_grad():
            want = model(x).numpy()
        (got,) = _run(data, x.numpy())
        assert got.shape == (n, 10)
        assert _rel_err(got, want) < RTOL


def test_export_dynamic_input_axis_leaves_unnamed_output_dims_unknown():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    data = _export_bytes(model, svertka.randn(2, 3, 4), dynamic_axes={"input": [0]})
    graph = onnx.load_from_string(data).graph
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "input_dynamic_axes_1"
    assert [d.dim_value for d in graph.output[0].type.tensor_type.shape.dim] == [0, 0]
    (got,) = _run(data, np.ones((4, 3, 4), np.float32))
    assert got.shape == (4, 3)


def test_export_initializers_carry_state_dict_names():
    model = models.lenet5()
    data = _export_bytes(model, svertka.randn(1, 1, 32, 32))
    names = {i.name for i in onnx.load_from_string(data).graph.initializer}
    assert set(model.state_dict()) <= names


def test_export_batch_norm_buffers_keep_their_names():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    data = _export_bytes(model, svertka.randn(1, 1, 5, 5))
    names = {i.name for i in onnx.load_from_string(data).graph.initializer}
    assert {"1.running_mean", "1.running_var", "1.weight", "1.bias"} <= names


def test_export_inplace_relu_reads_the_value_it_replaced():
    """``relu(x, inplace=True)`` adopts its result's node: the graph, not the call order,
    says what each later op read."""
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            y = self.conv(x)
            z = y * 2.0
            self.relu(y)
            return y + z

    svertka.manual_seed(0)
    model = Block()
    x = svertka.randn(2, 2, 5, 5)
    data = _export_bytes(model, x)
    with svertka.no_grad():
        want = model(x).numpy()
    (got,) = _run(data, x.numpy())
    assert _rel_err(got, want) < RTOL


def test_export_several_inputs_and_outputs_take_the_given_names():
    class Two(nn.Module):
        def forward(self, a, b):
            return a + b, a * b

    a, b = svertka.randn(2, 3), svertka.randn(2, 3)
    data = _export_bytes(Two(), (a, b), input_names=["a", "b"], output_names=["sum", "prod"])
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["sum", "prod"]
    s, p = sess.run(None, {"a": a.numpy(), "b": b.numpy()})
    np.testing.assert_allclose(s, (a + b).numpy(), rtol=1e-6)
    np.testing.assert_allclose(p, (a * b).numpy(), rtol=1e-6)


def test_export_to_path_is_atomic_and_loadable(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    export(models.lenet5(), svertka.randn(1, 1, 32, 32), path)
    assert os.listdir(tmp_path) == ["model.onnx"]                  # no temporary left
    assert onnx.load(str(path)).graph.node[0].op_type == "Conv"
    export(models.lenet5(), svertka.randn(1, 1, 32, 32), str(path))  # a str path too
    onnx.checker.check_model(str(path))


def test_export_to_file_object_writes_the_same_model(tmp_path):
    svertka.manual_seed(0)
    model = models.lenet5()
    x = svertka.randn(1, 1, 32, 32)
    with open(tmp_path / "a.onnx", "wb") as fh:
        export(model, x, fh)
    export(model, x, tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_export_rejects_unsupported_op_naming_it_and_its_module():
    class Cumulative(nn.Module):
        def forward(self, x):
            return x.cumsum(1)

    model = nn.Sequential(nn.Linear(3, 3), Cumulative())
    with pytest.raises(UnsupportedOperatorError,
                       match=r"^export: Cumsum in module '1' has no ONNX counterpart"):
        export(model, svertka.randn(2, 3), io.BytesIO())


def test_export_rejects_model_computing_forward_outside_the_graph():
    class NumpyFeatures(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(svertka.tensor(np.abs(x.detach().numpy())))

    with pytest.raises(UnsupportedOperatorError,
                       match=r"export: output 'output' does not depend on the inputs through "
                             r"svertka's ops.*\(NumpyFeatures\)"):
        export(NumpyFeatures(), svertka.randn(2, 4), io.BytesIO())


def test_export_rejects_dropout_called_in_training_mode():
    class AlwaysDrop(nn.Module):
        def forward(self, x):
            return nn.functional.dropout(x, 0.5, training=True)

    with pytest.raises(UnsupportedOperatorError, match=r"export: Dropout .*training=True"):
        export(AlwaysDrop(), svertka.randn(2, 3), io.BytesIO())


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"opset_version": 12}, ValueError,
     r"export: opset_version must be an int from 13 to 21, got opset_version=12"),
    ({"dynamic_axes": {"images": {0: "batch"}}}, ValueError,
     r"export: dynamic_axes names 'images', which is neither an input nor an output name"),
    ({"dynamic_axes": {"input": {4: "batch"}}}, ValueError,
     r"export: dynamic_axes\['input'\] names axis 4 of a 2-D value"),
    ({"input_names": ["a", "b"]}, ValueError, r"export: input_names has 2 names for 1 inputs"),
    ({"output_names": "out"}, TypeError, r"export: output_names must be a list of non-empty"),
], ids=["opset", "axes-name", "axes-axis", "too-many-names", "names-type"])
def test_export_rejects_bad_arguments(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        export(nn.Linear(3, 2), svertka.randn(2, 3), io.BytesIO(), **kwargs)


def test_export_rejects_non_tensor_args():
    with pytest.raises(TypeError, match=r"export: args\[0\] must be a Tensor, got list"):
        export(nn.Linear(3, 2), ([1.0, 2.0, 3.0],), io.BytesIO())


# one zoo model per family of ops (the deep ResNets, VGGs, DarkNet and YOLO repeat them)
@pytest.mark.parametrize("name", ["lenet5", "resnet20", "mobilenet_v2", "googlenet",
                                  "gated_cnn", "hog-softmax", "lecture_cnn", "nin",
                                  "wavenet_stack"])
def test_export_round_trips_through_the_importer(name, tmp_path):
    load = getattr(svertka.onnx, "load", None)
    if load is None:
        pytest.skip("svertka.onnx.load (the importer) is not in this tree")
    svertka.manual_seed(0)
    model = _with_running_stats(_build(name)).eval()
    path = tmp_path / "model.onnx"
    export(model, svertka.randn(2, *_size(name)), path,
           dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    back = load(str(path))
    x = svertka.randn(3, *_size(name))
    with svertka.no_grad():
        assert _rel_err(back(x).numpy(), model(x).numpy()) < RTOL


@pytest.mark.parametrize("kwargs", [
    {"size": (7, 5), "mode": "nearest"},
    {"size": (7, 5), "mode": "nearest-exact"},
    {"scale_factor": 1.7, "mode": "nearest"},
    {"size": (7, 5), "mode": "bilinear", "align_corners": False},
    {"size": (7, 5), "mode": "bilinear", "align_corners": True},
    {"scale_factor": 2.5, "mode": "bilinear"},
], ids=["nearest", "nearest-exact", "nearest-scale", "bilinear", "bilinear-corners",
        "bilinear-scale"])
def test_export_interpolate_matches_onnxruntime_with_dynamic_batch(kwargs):
    class Resize(nn.Module):
        def forward(self, x):
            return nn.functional.interpolate(x, **kwargs)

    data = _export_bytes(Resize(), svertka.randn(2, 3, 4, 3),
                         dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    x = svertka.randn(3, 3, 4, 3)
    (got,) = _run(data, x.numpy())
    np.testing.assert_allclose(got, nn.functional.interpolate(x, **kwargs).numpy(), rtol=1e-6)


@pytest.mark.parametrize("layer", [
    nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=(1, 0), dilation=(1, 2), groups=1)),
    nn.Sequential(nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1)),
    nn.Sequential(nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                               count_include_pad=False)),
    nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), nn.LeakyReLU(0.2), nn.ELU(), nn.SiLU()),
    nn.Sequential(nn.GroupNorm(1, 2), nn.GELU(), nn.Hardswish(), nn.Softmax(dim=1)),
    nn.Sequential(nn.AdaptiveAvgPool2d((2, 3)), nn.Flatten(), nn.LogSoftmax(dim=1)),
], ids=["conv", "conv-transpose", "avg-pool", "pool-activations", "group-norm", "adaptive"])
def test_export_layer_matches_onnxruntime_at_every_opset(layer):
    svertka.manual_seed(0)
    x = svertka.randn(2, 2, 7, 9)
    layer.eval()
    with svertka.no_grad():
        want = layer(x).numpy()
    for opset in (13, 17, 18, 21):
        data = _export_bytes(layer, x, opset_version=opset)
        (got,) = _run(data, x.numpy())
        assert got.shape == want.shape
        assert _rel_err(got, want) < RTOL, opset
