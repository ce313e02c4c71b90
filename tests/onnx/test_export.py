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


# ----------------------------------------------------------------------------- input-dependent
# masks: before the second trace and the traced comparisons, a bool result of a comparison had
# no node, so the mask of (x > 0).float() * x was frozen at the example's value: onnxruntime
# then disagreed with svertka on any other input by up to |x| (1.27 on randn(2, 5)), with no
# error; where() and masked_fill() were refused as "Where has no ONNX counterpart".

class _Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


MASKS = {
    "where-leaky": lambda x: svertka.where(x > 0, x, 0.5 * x),
    "mask-times": lambda x: (x > 0).float() * x,
    "mask-promoted": lambda x: (x >= 0.25) * x,
    "and-or-not": lambda x: svertka.where(~((x > 0.5) | (x <= -0.5)) & (x != 0), x * 2, x),
    "eq-of-two-values": lambda x: (x == x[:, :1]).float() + x,
    "masked-fill-of-a-result": lambda x: x.masked_fill(x.exp() > 1.5, -1.0),
    "mask-as-float64": lambda x: (x < 0.1).to(svertka.float64) * x.double(),
}


@pytest.mark.parametrize("name", list(MASKS))
def test_export_input_dependent_mask_matches_onnxruntime_on_another_input(name):
    """The mask follows the input: onnxruntime equals svertka on inputs other than the
    example (another batch size, through a dynamic axis)."""
    svertka.manual_seed(0)
    model = _Lambda(MASKS[name])
    data = _export_bytes(model, svertka.randn(2, 5),
                         dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    x = svertka.randn(3, 5)
    x[0, 0] = 0.0
    with svertka.no_grad():
        want = model(x).numpy()
    (got,) = _run(data, x.numpy())
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_export_where_with_a_fixed_mask_keeps_it_as_a_constant():
    class Causal(nn.Module):
        def forward(self, x):
            n = x.shape[-1]
            keep = svertka.arange(n)[:, None] >= svertka.arange(n)[None, :]   # no input in it
            return x.masked_fill(~keep, 0.0)

    x = svertka.randn(2, 4, 4)
    data = _export_bytes(Causal(), x)
    x2 = svertka.randn(2, 4, 4)
    (got,) = _run(data, x2.numpy())
    np.testing.assert_array_equal(got, np.tril(x2.numpy()))


@pytest.mark.parametrize("forward, node, op", [
    (lambda x: svertka.tensor(x.detach().numpy() > 0).float() * x, "Cast", "Mul"),
    (lambda x: svertka.where(svertka.tensor(np.abs(x.detach().numpy()) > 1), x, -x), "Where",
     "Where"),
    (lambda x: x * float(x.detach().numpy().max()), "Mul", "Mul"),
    (lambda x: x * 2 if x.max().item() >= 2.0 else x * 3, "Mul", "Mul"),
], ids=["numpy-mask", "numpy-where-condition", "item-scale", "control-flow"])
def test_export_rejects_constant_that_depends_on_the_input(forward, node, op):
    """A value computed from the input outside svertka's graph is refused, naming the node
    that reads it (without the second trace each of these exported silently wrong)."""
    model = nn.Sequential(nn.Linear(4, 4), _Lambda(forward))
    x = svertka.ones(2, 4) * svertka.tensor([1.0, -1.0, 2.0, 0.5])
    model[0].weight.data = svertka.eye(4)
    model[0].bias.data = svertka.zeros(4)
    with pytest.raises(UnsupportedOperatorError,
                       match=rf"export: .*node '/1/{node}' \(svertka op {op} in module '1'\) "
                             rf"changed when forward was traced again.*outside svertka's graph"):
        export(model, x, io.BytesIO())


def test_export_mask_from_numpy_would_be_frozen_without_the_check(monkeypatch):
    """What the check guards against: with it switched off the file exports and gives the
    example's mask for every input."""
    from svertka.onnx import _export

    def numpy_mask(x):
        return svertka.tensor(x.detach().numpy() > 0).float() * x

    monkeypatch.setattr(_export, "_check_same_graph", lambda *args: None)
    svertka.manual_seed(0)
    data = _export_bytes(_Lambda(numpy_mask), svertka.randn(2, 5))
    x = svertka.randn(2, 5)
    (got,) = _run(data, x.numpy())
    assert not np.array_equal(got, numpy_mask(x).numpy())


def test_export_random_draws_in_forward_are_not_taken_for_input_dependence():
    class Noisy(nn.Module):
        def forward(self, x):
            return x + svertka.randn(*x.shape)

    svertka.manual_seed(3)
    x = svertka.randn(2, 3)
    state = svertka.random.get_rng_state()
    data = _export_bytes(Noisy(), x)
    after_export = svertka.random.get_rng_state()
    svertka.random.set_rng_state(state)
    svertka.randn(2, 3)
    assert after_export == svertka.random.get_rng_state()     # one forward's worth of draws
    (got,) = _run(data, np.zeros((2, 3), np.float32))
    assert np.std(got) > 0


def test_export_warns_when_forward_refuses_the_perturbed_input():
    class Digits(nn.Module):
        def forward(self, x):
            if not np.array_equal(x.detach().numpy(), np.round(x.detach().numpy())):
                raise ValueError("Digits: integer grey levels only")
            return x * 2

    with pytest.warns(UserWarning, match=r"export: could not check .*ValueError \(Digits: "):
        data = _export_bytes(Digits(), svertka.tensor([[1.0, 2.0, 3.0]]))
    (got,) = _run(data, np.array([[4.0, 5.0, 6.0]], np.float32))
    np.testing.assert_array_equal(got, [[8.0, 10.0, 12.0]])


@pytest.mark.parametrize("f, message", [
    (b"model.onnx", r"export: f must be a path \(str or os.PathLike\) or a writable binary "
                    r"file object, got bytes"),
    (3, r"export: f must be a path .*, got int"),
    (io.StringIO(), r"export: f must be opened in binary mode \('wb'\), got a text file"),
], ids=["bytes", "int", "text-file"])
def test_export_rejects_target_that_is_not_a_path_or_binary_file(f, message):
    with pytest.raises(TypeError, match=message):
        export(nn.Linear(3, 2), svertka.randn(2, 3), f)
