"""summary: parameter totals of the zoo, per-layer MACs by hand, receptive-field columns."""

import argparse
import json

import numpy as np
import pytest

import svertka
from svertka import models, nn
from svertka._cli_errors import CommandError
from svertka.analysis import layer_macs, summary
from svertka.analysis.cli import add_summary_parser, cmd_summary, parse_input_size

SMALL = {(3, 224, 224): (3, 64, 64), (3, 416, 416): (3, 96, 96)}
SLOW = ("vgg", "resnet101", "resnet152",   # seconds just to initialise 100M+ parameters
        "resnet110", "resnet56", "resnet44", "resnet32", "resnet34")  # deeper copies of others


def _zoo():
    return [n for n in models.list_models() if not n.startswith(SLOW)]


@pytest.mark.parametrize("name", _zoo())
def test_summary_total_params_equal_the_models_count(name):
    info = models.model_info(name)
    size = SMALL.get(tuple(info["input_size"]), tuple(info["input_size"]))
    model = models.get_model(name, input_size=size)   # as the CLI: builders that take it
    s = summary(model, size)
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.trainable_params == s.total_params
    assert s.rows[0].params == s.total_params
    assert s.total_macs == sum(r.macs for r in s.rows if r.leaf)
    assert s.rows[0].macs == s.total_macs
    assert json.loads(json.dumps(s.to_dict()))["total_params"] == s.total_params


MACS = [
    # module, input size (one sample), MACs by hand
    pytest.param(nn.Conv2d(3, 8, 3, padding=1), (3, 10, 10), 8 * 10 * 10 * 3 * 9, id="conv2d"),
    pytest.param(nn.Conv2d(4, 8, 3, stride=2, groups=2), (4, 9, 9), 8 * 4 * 4 * 2 * 9,
                 id="conv2d-groups"),
    pytest.param(nn.Conv2d(4, 4, 3, groups=4, bias=False), (4, 5, 5), 4 * 3 * 3 * 1 * 9,
                 id="depthwise"),
    pytest.param(nn.Conv1d(2, 4, 5), (2, 20), 4 * 16 * 2 * 5, id="conv1d"),
    pytest.param(nn.Conv3d(1, 2, 3), (1, 5, 5, 5), 2 * 27 * 27, id="conv3d"),
    pytest.param(nn.ConvTranspose2d(4, 2, 3, stride=2), (4, 5, 5), 4 * 25 * 2 * 9,
                 id="conv-transpose2d"),
    pytest.param(nn.ConvTranspose1d(4, 6, 3, groups=2), (4, 7), 4 * 7 * 3 * 3,
                 id="conv-transpose1d-groups"),
    pytest.param(nn.Linear(12, 5), (12,), 60, id="linear"),
    pytest.param(nn.Linear(12, 5), (3, 12), 3 * 5 * 12, id="linear-extra-dims"),
    pytest.param(nn.MaxPool2d(2), (3, 8, 8), 3 * 16 * 4, id="max-pool"),
    pytest.param(nn.AvgPool2d(3, stride=2, padding=1), (2, 7, 7), 2 * 16 * 9, id="avg-pool"),
    pytest.param(nn.LPPool2d(2, 2), (3, 8, 8), 3 * 16 * 4, id="lp-pool"),
    pytest.param(nn.MaxPool1d(3, stride=2, ceil_mode=True), (2, 8), 2 * 4 * 3, id="pool-ceil"),
    pytest.param(nn.AdaptiveAvgPool2d(1), (4, 5, 5), 4 * 25, id="adaptive-global"),
    pytest.param(nn.AdaptiveMaxPool2d(3), (1, 5, 5), 7 * 7, id="adaptive-overlapping"),
    pytest.param(nn.BatchNorm2d(3), (3, 4, 4), 2 * 48, id="batch-norm"),
    pytest.param(nn.BatchNorm2d(3, affine=False), (3, 4, 4), 48, id="batch-norm-no-affine"),
    pytest.param(nn.GroupNorm(1, 3), (3, 4, 4), 2 * 48, id="group-norm"),
    pytest.param(nn.LayerNorm([4, 4]), (3, 4, 4), 2 * 48, id="layer-norm"),
    pytest.param(nn.InstanceNorm2d(3), (3, 4, 4), 48, id="instance-norm"),
    pytest.param(nn.LocallyConnected2d(2, 3, (6, 6), 3), (2, 6, 6), 3 * 16 * 2 * 9,
                 id="locally-connected"),
    pytest.param(nn.ReLU(), (3, 4, 4), 0, id="relu"),
    pytest.param(nn.Flatten(), (3, 4, 4), 0, id="flatten"),
]


@pytest.mark.parametrize("module, input_size, macs", MACS)
def test_summary_macs_match_hand_computation(module, input_size, macs):
    s = summary(nn.Sequential(module), input_size)
    assert s.rows[1].macs == macs
    assert s.total_macs == macs


def test_layer_macs_of_bilinear():
    m = nn.Bilinear(3, 4, 5)
    x1, x2 = svertka.zeros(2, 3), svertka.zeros(2, 4)
    assert layer_macs(m, (x1, x2), m(x1, x2)) == 2 * 5 * (3 * 4 + 3)


def test_summary_of_alexnet_first_layer_and_totals():
    assert "alexnet" in models.list_models()
    s = summary(models.get_model("alexnet"), (3, 224, 224))
    conv1 = next(r for r in s.rows if r.name == "features.0")
    assert conv1.output_shape == (1, 64, 55, 55)
    assert conv1.macs == 64 * 55 * 55 * 3 * 11 * 11
    assert conv1.receptive_field == (11, 11) and conv1.jump == (4, 4)
    assert s.total_params == 61_100_840
    last_pool = next(r for r in s.rows if r.name == "features.12")
    assert last_pool.receptive_field == (195, 195) and last_pool.jump == (32, 32)


def test_summary_rows_fields_and_receptive_fields():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.MaxPool2d(2),
                        nn.Conv2d(4, 2, 3, dilation=2), nn.Flatten(), nn.Linear(2, 3))
    s = summary(net, (1, 14, 14))
    names = [r.name for r in s.rows]
    assert names == ["", "0", "1", "2", "3", "4", "5", "6"]
    r = s.rows[5]
    assert (r.type, r.output_shape, r.params) == ("Conv2d", (1, 2, 1, 1), 74)
    assert r.receptive_field == (14, 14) and r.jump == (2, 2) and r.start == (6.5, 6.5)
    assert s.rows[2].receptive_field == (3, 3)       # ReLU passes the geometry through
    assert s.rows[7].receptive_field is None          # Linear: not spatial
    fields = set(s.to_dict()["rows"][0])
    assert {"name", "type", "output_shape", "params", "macs", "receptive_field", "jump",
            "start"} <= fields


def test_summary_counts_frozen_params_and_memory():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(32, 2))
    net[0].weight.requires_grad_(False)
    s = summary(net, (1, 6, 6))
    assert s.total_params == 20 + 4 + 66
    assert s.trainable_params == s.total_params - 18
    assert s.param_bytes == 4 * s.total_params
    assert s.activation_bytes == 4 * (2 * 16 + 2 * 16 + 32 + 2)
    assert s.buffer_bytes == 4 * (2 + 2) + 8   # running mean, var, num_batches_tracked
    assert net.training                       # eval mode is restored


def test_summary_str_is_a_table():
    s = summary(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU()), (1, 8, 8))
    text = str(s)
    for piece in ("Layer (type)", "Output shape", "0 (Conv2d)", "[1, 4, 6, 6]", "3x3",
                  "Total params: 40", "Total MACs (one sample): 1,296", "Activation memory"):
        assert piece in text
    assert "total_params=40" in repr(s)


def test_summary_handles_modules_called_twice_and_float64():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            return self.conv(self.conv(x))

    s = summary(Twice().double(), (1, 5, 5))
    assert s.rows[1].macs == 2 * 25 * 9
    assert s.rows[1].receptive_field == (5, 5)
    assert s.param_bytes == 8 * 10


def test_summary_rejects_bad_arguments():
    with pytest.raises(TypeError, match="summary: model must be a Module, got function"):
        summary(lambda x: x, (1, 4, 4))
    with pytest.raises(TypeError, match="summary: input_size must be a tuple of ints"):
        summary(nn.ReLU(), 4)
    with pytest.raises(ValueError, match=r"input_size must be a non-empty tuple of positive ints"):
        summary(nn.ReLU(), (-1, 4))


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_summary_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cmd_summary_prints_a_table_and_json(capsys):
    args = _parse(["summary", "lenet5", "--input", "1x32x32"])
    assert args.func is cmd_summary
    assert cmd_summary(args) == 0
    out = capsys.readouterr().out
    assert "Total params: 61,706" in out and "features" in out
    assert cmd_summary(_parse(["summary", "lecture_cnn", "--json", "--num-classes", "5"])) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_size"] == [3, 32, 32]
    assert data["rows"][-1]["output_shape"] == [1, 5]


def test_cmd_summary_rejects_bad_input():
    assert parse_input_size("3,8,8") == (3, 8, 8)
    with pytest.raises(ValueError, match="summary: --input must look like 3x224x224"):
        parse_input_size("3xbig")
    with pytest.raises(ValueError, match="summary: --input sizes must be positive"):
        parse_input_size("0x8x8")
    with pytest.raises(CommandError, match="unknown model 'nope'"):
        cmd_summary(_parse(["summary", "nope"]))
    with pytest.raises(CommandError, match="--input must look like"):
        cmd_summary(_parse(["summary", "lenet5", "--input", "a"]))


def test_summary_macs_equal_flop_count_of_conv_matrix():
    from svertka.analysis import conv_matrix

    w = np.ones((4, 3, 3, 3))
    m = conv_matrix(w, (3, 9, 9), stride=2, sparse=False)
    s = summary(nn.Sequential(nn.Conv2d(3, 4, 3, stride=2)), (3, 9, 9))
    assert s.total_macs == int(np.count_nonzero(m))   # one MAC per tap
    m = conv_matrix(w, (3, 9, 9), stride=2, padding=1, sparse=False)
    s = summary(nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1)), (3, 9, 9))
    assert s.total_macs > int(np.count_nonzero(m))    # MACs count the taps on padding too
