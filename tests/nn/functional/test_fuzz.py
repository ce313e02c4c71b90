"""Hostile-argument fuzzing of every public ``svertka.nn.functional`` op and every layer of
``svertka.nn`` against torch 2.13 (issue 19).

Each op has one valid base call (``CALLS``, ``LAYERS``). Hypothesis replaces up to three of its
arguments (positional, keyword, a layer's constructor arguments or its input) with hostile
values: tensors of the wrong rank, size or dtype, empty tensors, NaN and inf, huge and negative
integers, floats where ints go, strings, None and tuples of the wrong length. The same call is
made on torch (tensors copied) and on svertka, and the property is:

* svertka raises ``ValueError`` or ``TypeError`` whose message starts with ``"<name>:"``
  (the function, the layer, or a function the layer calls); torch is then not called at all
  (whatever it does is fine, and some of its calls hang: ``max_pool1d(x, 2**40)`` never
  returns in torch 2.13); or
* svertka returns, torch returns too, the shapes agree, and where torch gives a finite number
  svertka gives no NaN;
* anything else (another exception type, svertka returning where torch refuses, unless listed
  in ``DEPARTURES``) fails. A call that runs past ``GUARD_S`` seconds fails as a hang (a guard
  against hanging the suite, far above the milliseconds each call takes; no timing is asserted).

Sizes stay tiny, and the huge integers (``2**40`` and up) are ones that both libraries refuse
before allocating, so no case allocates much. ``SVERTKA_FUZZ_EXAMPLES`` (default 12 per op,
derandomised) raises the count for long local runs, with fresh random draws.

Departures from torch kept on purpose (svertka answers where torch raises, or the reverse in a
way the property cannot express) are the rows of ``DEPARTURES``:

=========================  ====================================================================
op                         departure
=========================  ====================================================================
avg_pool*/AvgPool*         keyword ``dilation`` (not in torch)
F.flatten                  svertka has ``F.flatten`` (torch: ``torch.flatten``, the oracle)
locally_connected2d        svertka only: checked for the error contract only
LocallyConnected2d         svertka only: checked for the error contract only
(any)                      torch's stricter argument types (an int for a bool): svertka answers
(any)                      dtypes torch's CPU kernels lack (float16 avg_pool3d, integer
                           upsampling): svertka computes them
batch/instance/group/      parameters of another float dtype than the input: torch refuses
layer norm                 ("mixed dtype", "expected scalar type"), svertka computes in the
                           input's dtype
relu_, celu_, ... upsample_*  errors name the function they call (relu, interpolate), as torch
(any float argument)       an int beyond int64 (2**64): torch's parser overflows, svertka
                           takes it as a float
(float scalars)            1e308 as a float32 parameter: torch refuses ("without overflow"),
                           svertka computes with it (inf where it overflows)
pixel_(un)shuffle          an empty input: torch returns it unchanged, svertka the formula's
                           shape
max_unpool*                stride=(): svertka takes the default (as max_pool), torch fails
local_response_norm        size beyond memory (2**40): torch cannot allocate its padded copy,
                           svertka clips the window to the channels and answers
=========================  ====================================================================
"""

from __future__ import annotations

import math
import os
import signal
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import svertka
import svertka.nn as nn
import svertka.nn.functional as F

EXAMPLES = int(os.environ.get("SVERTKA_FUZZ_EXAMPLES", "12"))
GUARD_S = 60
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 12,
                    database=None,
                    suppress_health_check=list(HealthCheck))


# ----------------------------------------------------------------------------- argument specs

class T:
    """A tensor to build on both sides: ``kind`` 'f' (normal), 'u' (in (0, 1)), 'p'
    (positive), 'i' (ints in ``[0, high)``), 'nan' / 'inf' (normal with one NaN / +-inf),
    'b' (bool); ``dtype`` the float dtype."""

    def __init__(self, *shape, kind="f", high=3, dtype=None, data=None):
        self.shape, self.kind, self.high, self.dtype, self.data = shape, kind, high, dtype, data

    def array(self, seed, default="float64"):
        if self.data is not None:
            a = np.array(self.data)
            return a.astype(default) if a.dtype.kind == "f" else a
        rng = np.random.default_rng(seed)
        size = math.prod(self.shape)
        if self.kind == "i":
            return rng.integers(0, self.high, self.shape).astype(np.int64)
        if self.kind == "b":
            return rng.integers(0, 2, self.shape).astype(bool)
        a = rng.standard_normal(self.shape)
        if self.kind == "u":
            a = rng.uniform(0.05, 0.95, self.shape)
        elif self.kind == "p":
            a = np.abs(a) + 0.5
        elif self.kind in ("nan", "inf") and size:
            a.reshape(-1)[rng.integers(size)] = np.nan if self.kind == "nan" else np.inf
            if self.kind == "inf" and size > 1:
                a.reshape(-1)[rng.integers(size)] = -np.inf
        return a.astype(self.dtype or default)

    def __repr__(self):
        shape = self.shape if self.data is None else np.shape(self.data)
        return f"T{shape}[{self.kind},{self.dtype}]"


def _pooled():
    """A max pooling's output and indices, the base of max_unpool."""
    x = torch.tensor(np.random.default_rng(1).standard_normal((2, 3, 6, 6, 6)))
    out = {}
    for n in (1, 2, 3):
        xs = x[(Ellipsis,) + (0,) * (3 - n)]
        y, i = getattr(TF, f"max_pool{n}d")(xs, 2, return_indices=True)
        out[n] = (T(data=y.numpy()), T(data=i.numpy()))
    return out


POOLED = _pooled()
X3, X4, X5 = T(2, 3, 7), T(2, 3, 6, 6), T(1, 2, 4, 4, 4)

# op name -> (positional args, keyword args)
CALLS = {
    "adaptive_avg_pool1d": ((X3, 3), {}),
    "adaptive_avg_pool2d": ((X4, (2, 4)), {}),
    "adaptive_avg_pool3d": ((X5, (2, 3, 2)), {}),
    "adaptive_max_pool1d": ((X3, 3), {"return_indices": False}),
    "adaptive_max_pool2d": ((X4, (2, 4)), {"return_indices": False}),
    "adaptive_max_pool3d": ((X5, (2, 3, 2)), {"return_indices": False}),
    "alpha_dropout": ((T(2, 3),), {"p": 0.5, "training": True}),
    "avg_pool1d": ((X3, 3), {"stride": 2, "padding": 1, "ceil_mode": False}),
    "avg_pool2d": ((X4, 3), {"stride": 2, "padding": 1, "divisor_override": None}),
    "avg_pool3d": ((X5, 2), {"stride": 1, "ceil_mode": True}),
    "batch_norm": ((T(4, 3, 5), T(3), T(3, kind="p"), T(3), T(3)),
                   {"training": True, "momentum": 0.1, "eps": 1e-5}),
    "bilinear": ((T(4, 3), T(4, 5), T(2, 3, 5), T(2)), {}),
    "binary_cross_entropy": ((T(4, 3, kind="u"), T(4, 3, kind="u")), {"reduction": "mean"}),
    "binary_cross_entropy_with_logits": ((T(4, 3), T(4, 3, kind="u")), {"reduction": "sum"}),
    "celu": ((X3,), {"alpha": 1.0}),
    "celu_": ((X3,), {"alpha": 1.0}),
    "conv1d": ((T(2, 4, 7), T(6, 2, 3), T(6)), {"stride": 1, "padding": 1, "dilation": 1,
                                                "groups": 2}),
    "conv2d": ((T(2, 4, 6, 6), T(6, 2, 3, 3), T(6)), {"stride": 2, "padding": 1,
                                                      "dilation": 1, "groups": 2}),
    "conv3d": ((T(1, 2, 4, 4, 4), T(4, 1, 2, 2, 2), T(4)), {"stride": 1, "padding": 0,
                                                            "groups": 2}),
    "conv_transpose1d": ((T(2, 4, 5), T(4, 3, 3), T(6)), {"stride": 2, "padding": 1,
                                                          "output_padding": 1, "groups": 2}),
    "conv_transpose2d": ((T(2, 4, 4, 4), T(4, 3, 3, 3), T(6)),
                         {"stride": 2, "padding": 1, "output_padding": 0, "groups": 2,
                          "dilation": 1}),
    "conv_transpose3d": ((T(1, 2, 3, 3, 3), T(2, 2, 2, 2, 2), T(2)), {"stride": 1}),
    "cosine_similarity": ((T(4, 5), T(4, 5)), {"dim": 1, "eps": 1e-8}),
    "cross_entropy": ((T(4, 5), T(4, kind="i", high=5)), {"reduction": "mean",
                                                           "label_smoothing": 0.0}),
    "dropout": ((X3,), {"p": 0.5, "training": True}),
    "dropout1d": ((X3,), {"p": 0.5}),
    "dropout2d": ((X4,), {"p": 0.5}),
    "dropout3d": ((X5,), {"p": 0.5}),
    "elu": ((X3,), {"alpha": 1.0}),
    "elu_": ((X3,), {"alpha": 1.0}),
    "embedding": ((T(3, 4, kind="i", high=10), T(10, 3)), {"padding_idx": None}),
    "feature_alpha_dropout": ((X4,), {"p": 0.5, "training": True}),
    "flatten": ((X4,), {"start_dim": 1, "end_dim": -1}),
    "fold": ((T(2, 12, 9), (4, 4), 2), {"dilation": 1, "padding": 0, "stride": 1}),
    "gelu": ((X3,), {"approximate": "none"}),
    "glu": ((T(2, 4, 3),), {"dim": 1}),
    "group_norm": ((T(2, 4, 3), 2, T(4), T(4)), {"eps": 1e-5}),
    "hardshrink": ((X3,), {"lambd": 0.5}),
    "hardsigmoid": ((X3,), {}),
    "hardswish": ((X3,), {}),
    "hardtanh": ((X3,), {"min_val": -1.0, "max_val": 1.0}),
    "hardtanh_": ((X3,), {"min_val": -1.0, "max_val": 1.0}),
    "huber_loss": ((T(4, 3), T(4, 3)), {"reduction": "mean", "delta": 1.0}),
    "instance_norm": ((T(2, 3, 5),), {"eps": 1e-5}),
    "interpolate": ((X4,), {"size": (5, 7), "mode": "bilinear", "align_corners": False}),
    "kl_div": ((T(4, 5), T(4, 5, kind="u")), {"reduction": "batchmean", "log_target": False}),
    "l1_loss": ((T(4, 3), T(4, 3)), {"reduction": "mean"}),
    "layer_norm": ((T(2, 3, 4), (4,), T(4), T(4)), {"eps": 1e-5}),
    "leaky_relu": ((X3,), {"negative_slope": 0.01}),
    "leaky_relu_": ((X3,), {"negative_slope": 0.01}),
    "linear": ((T(2, 3), T(4, 3), T(4)), {}),
    "local_response_norm": ((T(2, 5, 3, 3), 3), {"alpha": 1e-4, "beta": 0.75, "k": 1.0}),
    "locally_connected2d": ((T(2, 3, 4, 4), T(3, 3, 2, 3, 2, 2), T(2, 3, 3)), {"stride": 1}),
    "log_softmax": ((T(2, 5),), {"dim": 1}),
    "logsigmoid": ((X3,), {}),
    "lp_pool1d": ((X3, 2.0, 3), {"stride": 2, "ceil_mode": False}),
    "lp_pool2d": ((X4, 2.0, 2), {"stride": None, "ceil_mode": True}),
    "lp_pool3d": ((X5, 3.0, 2), {}),
    "max_pool1d": ((X3, 3), {"stride": 2, "padding": 1, "dilation": 1, "ceil_mode": False,
                             "return_indices": False}),
    "max_pool2d": ((X4, 3), {"stride": 2, "padding": 1, "dilation": 1, "ceil_mode": True,
                             "return_indices": True}),
    "max_pool3d": ((X5, 2), {"stride": 1, "dilation": 2}),
    "max_unpool1d": (POOLED[1] + (2,), {"stride": None, "padding": 0, "output_size": None}),
    "max_unpool2d": (POOLED[2] + (2,), {"stride": 2, "padding": 0}),
    "max_unpool3d": (POOLED[3] + (2,), {"output_size": (6, 6, 6)}),
    "mish": ((X3,), {}),
    "mse_loss": ((T(4, 3), T(4, 3)), {"reduction": "mean"}),
    "nll_loss": ((T(4, 5), T(4, kind="i", high=5)), {"ignore_index": -100,
                                                      "reduction": "mean"}),
    "normalize": ((T(2, 4),), {"p": 2.0, "dim": 1, "eps": 1e-12}),
    "one_hot": ((T(5, kind="i", high=4),), {"num_classes": 4}),
    "pad": ((X3, (1, 2)), {"mode": "constant", "value": 0.0}),
    "pairwise_distance": ((T(4, 5), T(4, 5)), {"p": 2.0, "eps": 1e-6, "keepdim": False}),
    "pixel_shuffle": ((T(1, 8, 3, 3), 2), {}),
    "pixel_unshuffle": ((T(1, 2, 4, 4), 2), {}),
    "prelu": ((X3, T(3)), {}),
    "relu": ((X3,), {}),
    "relu6": ((X3,), {}),
    "relu_": ((X3,), {}),
    "rms_norm": ((T(2, 3, 4), (4,)), {"eps": None}),
    "selu": ((X3,), {}),
    "selu_": ((X3,), {}),
    "sigmoid": ((X3,), {}),
    "silu": ((X3,), {}),
    "smooth_l1_loss": ((T(4, 3), T(4, 3)), {"reduction": "mean", "beta": 1.0}),
    "softmax": ((T(2, 5),), {"dim": 1}),
    "softmin": ((T(2, 5),), {"dim": 1}),
    "softplus": ((X3,), {"beta": 1.0, "threshold": 20.0}),
    "softshrink": ((X3,), {"lambd": 0.5}),
    "softsign": ((X3,), {}),
    "tanh": ((X3,), {}),
    "tanhshrink": ((X3,), {}),
    "threshold": ((X3, 0.1, 20.0), {}),
    "threshold_": ((X3, 0.1, 20.0), {}),
    "unfold": ((T(2, 3, 5, 5), 2), {"dilation": 1, "padding": 0, "stride": 1}),
    "upsample": ((X4,), {"scale_factor": 2, "mode": "nearest"}),
    "upsample_bilinear": ((X4,), {"scale_factor": 2}),
    "upsample_nearest": ((X4,), {"size": (7, 9)}),
}

# layer -> (constructor args, constructor kwargs, forward inputs)
_UNPOOL = {n: (POOLED[n][0], POOLED[n][1]) for n in (1, 2, 3)}
LAYERS = {
    "AdaptiveAvgPool1d": ((3,), {}, (X3,)),
    "AdaptiveAvgPool2d": (((2, 4),), {}, (X4,)),
    "AdaptiveAvgPool3d": ((2,), {}, (X5,)),
    "AdaptiveMaxPool1d": ((3,), {"return_indices": False}, (X3,)),
    "AdaptiveMaxPool2d": ((2,), {}, (X4,)),
    "AdaptiveMaxPool3d": ((2,), {}, (X5,)),
    "AlphaDropout": ((0.5,), {}, (T(2, 3),)),
    "AvgPool1d": ((3,), {"stride": 2, "padding": 1}, (X3,)),
    "AvgPool2d": ((3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (X4,)),
    "AvgPool3d": ((2,), {}, (X5,)),
    "BCELoss": ((), {"reduction": "mean"}, (T(4, 3, kind="u"), T(4, 3, kind="u"))),
    "BCEWithLogitsLoss": ((), {}, (T(4, 3), T(4, 3, kind="u"))),
    "BatchNorm1d": ((3,), {"eps": 1e-5, "momentum": 0.1, "affine": True}, (T(4, 3, 5),)),
    "BatchNorm2d": ((3,), {"track_running_stats": True}, (X4,)),
    "BatchNorm3d": ((2,), {}, (X5,)),
    "Bilinear": ((3, 5, 2), {"bias": True}, (T(4, 3), T(4, 5))),
    "CELU": ((1.0,), {}, (X3,)),
    "CircularPad1d": ((2,), {}, (X3,)),
    "CircularPad2d": (((1, 2, 0, 1),), {}, (X4,)),
    "CircularPad3d": ((1,), {}, (X5,)),
    "ConstantPad1d": ((2, 1.5), {}, (X3,)),
    "ConstantPad2d": (((1, 2, 0, 1), 0.0), {}, (X4,)),
    "ConstantPad3d": ((1, 0.0), {}, (X5,)),
    "Conv1d": ((4, 6, 3), {"stride": 1, "padding": 1, "groups": 2,
                           "padding_mode": "zeros"}, (T(2, 4, 7),)),
    "Conv2d": ((4, 6, 3), {"stride": 2, "padding": "valid", "dilation": 1, "bias": True,
                           "padding_mode": "reflect"}, (T(2, 4, 6, 6),)),
    "Conv3d": ((2, 4, 2), {"groups": 1}, (T(1, 2, 4, 4, 4),)),
    "ConvTranspose1d": ((4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1},
                        (T(2, 4, 5),)),
    "ConvTranspose2d": ((4, 6, 3), {"stride": 2, "groups": 2, "dilation": 1},
                        (T(2, 4, 4, 4),)),
    "ConvTranspose3d": ((2, 2, 2), {}, (T(1, 2, 3, 3, 3),)),
    "CosineSimilarity": ((), {"dim": 1, "eps": 1e-8}, (T(4, 5), T(4, 5))),
    "CrossEntropyLoss": ((), {"reduction": "mean", "label_smoothing": 0.1},
                         (T(4, 5), T(4, kind="i", high=5))),
    "Dropout": ((0.5,), {}, (X3,)),
    "Dropout1d": ((0.5,), {}, (X3,)),
    "Dropout2d": ((0.5,), {}, (X4,)),
    "Dropout3d": ((0.5,), {}, (X5,)),
    "ELU": ((1.0,), {}, (X3,)),
    "Embedding": ((10, 3), {"padding_idx": 0}, (T(3, 4, kind="i", high=10),)),
    "Flatten": ((1, -1), {}, (X4,)),
    "GELU": (("tanh",), {}, (X3,)),
    "GLU": ((1,), {}, (T(2, 4, 3),)),
    "GroupNorm": ((2, 4), {"eps": 1e-5, "affine": True}, (T(2, 4, 3),)),
    "Hardshrink": ((0.5,), {}, (X3,)),
    "Hardsigmoid": ((), {}, (X3,)),
    "Hardswish": ((), {}, (X3,)),
    "Hardtanh": ((-1.0, 1.0), {}, (X3,)),
    "HuberLoss": ((), {"reduction": "sum", "delta": 1.0}, (T(4, 3), T(4, 3))),
    "Identity": ((), {}, (X3,)),
    "InstanceNorm1d": ((3,), {"affine": True}, (X3,)),
    "InstanceNorm2d": ((3,), {}, (X4,)),
    "InstanceNorm3d": ((2,), {"track_running_stats": True}, (X5,)),
    "L1Loss": ((), {"reduction": "none"}, (T(4, 3), T(4, 3))),
    "LPPool1d": ((2.0, 3), {"stride": 2}, (X3,)),
    "LPPool2d": ((2.0, 2), {"ceil_mode": True}, (X4,)),
    "LayerNorm": (((4,),), {"eps": 1e-5, "elementwise_affine": True}, (T(2, 3, 4),)),
    "LeakyReLU": ((0.1,), {}, (X3,)),
    "Linear": ((3, 4), {"bias": True}, (T(2, 3),)),
    "LocalResponseNorm": ((3,), {"alpha": 1e-4, "beta": 0.75, "k": 1.0}, (T(2, 5, 3, 3),)),
    "LocallyConnected2d": ((3, 2, (4, 4), 2), {"stride": 1}, (T(2, 3, 4, 4),)),
    "LogSigmoid": ((), {}, (X3,)),
    "LogSoftmax": ((1,), {}, (T(2, 5),)),
    "MSELoss": ((), {}, (T(4, 3), T(4, 3))),
    "MaxPool1d": ((3,), {"stride": 2, "padding": 1}, (X3,)),
    "MaxPool2d": ((3,), {"stride": 2, "padding": 1, "return_indices": True}, (X4,)),
    "MaxPool3d": ((2,), {"dilation": 1, "ceil_mode": True}, (X5,)),
    "MaxUnpool1d": ((2,), {}, _UNPOOL[1]),
    "MaxUnpool2d": ((2,), {"stride": 2}, _UNPOOL[2]),
    "MaxUnpool3d": ((2,), {"padding": 0}, _UNPOOL[3]),
    "Mish": ((), {}, (X3,)),
    "NLLLoss": ((), {"ignore_index": 1}, (T(4, 5), T(4, kind="i", high=5))),
    "PReLU": ((3,), {"init": 0.25}, (X3,)),
    "PairwiseDistance": ((), {"p": 1.5, "keepdim": True}, (T(4, 5), T(4, 5))),
    "PixelShuffle": ((2,), {}, (T(1, 8, 3, 3),)),
    "PixelUnshuffle": ((2,), {}, (T(1, 2, 4, 4),)),
    "ReLU": ((), {}, (X3,)),
    "ReLU6": ((), {}, (X3,)),
    "ReflectionPad1d": ((2,), {}, (X3,)),
    "ReflectionPad2d": (((1, 2, 0, 1),), {}, (X4,)),
    "ReflectionPad3d": ((1,), {}, (X5,)),
    "ReplicationPad1d": ((2,), {}, (X3,)),
    "ReplicationPad2d": (((1, 2, 0, 1),), {}, (X4,)),
    "ReplicationPad3d": ((1,), {}, (X5,)),
    "SELU": ((), {}, (X3,)),
    "SiLU": ((), {}, (X3,)),
    "Sigmoid": ((), {}, (X3,)),
    "SmoothL1Loss": ((), {"beta": 0.5}, (T(4, 3), T(4, 3))),
    "Softmax": ((1,), {}, (T(2, 5),)),
    "Softmin": ((1,), {}, (T(2, 5),)),
    "Softplus": ((1.0, 20.0), {}, (X3,)),
    "Softshrink": ((0.5,), {}, (X3,)),
    "Softsign": ((), {}, (X3,)),
    "Tanh": ((), {}, (X3,)),
    "Tanhshrink": ((), {}, (X3,)),
    "Threshold": ((0.1, 20.0), {}, (X3,)),
    "Unflatten": ((1, (3, 1)), {}, (X3,)),
    "Upsample": ((), {"scale_factor": 2, "mode": "nearest"}, (X4,)),
    "UpsamplingBilinear2d": ((), {"size": (5, 7)}, (X4,)),
    "UpsamplingNearest2d": ((), {"scale_factor": 2}, (X4,)),
    "ZeroPad1d": ((2,), {}, (X3,)),
    "ZeroPad2d": (((1, 2, 0, 1),), {}, (X4,)),
    "ZeroPad3d": ((1,), {}, (X5,)),
}
# Containers hold other modules (no arguments of their own to fuzz).
CONTAINERS = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
              "ParameterDict"}
# layers that cannot be fuzzed in one process against torch, and where they are tested
NOT_FUZZED = {
    "SyncBatchNorm": "torch's runs only on CUDA tensors in a process group; svertka's is "
                     "checked against a single process in tests/distributed",
    **{f"Lazy{n}": "becomes the eager layer (fuzzed here) at its first call; compared with "
                   "torch in tests/nn/test_lazy.py"
       for n in ("Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                 "ConvTranspose3d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d")},
}

SVERTKA_ONLY = {"locally_connected2d", "LocallyConnected2d"}
TORCH_NAME = {"flatten": torch.flatten}

# (op, predicate on the drawn call) -> why svertka may return where torch raises
DEPARTURES = {
    "avg_pool1d": "keyword dilation (not in torch)",
    "avg_pool2d": "keyword dilation (not in torch)",
    "avg_pool3d": "keyword dilation (not in torch)",
}

# torch refusing where svertka answers, on purpose: torch's argument parser is stricter on
# types (an int where a bool goes); torch's CPU kernels lack some dtypes (float16 average
# pooling, integer upsampling: NotImplementedError); torch's norms refuse parameters of another
# float dtype than the input ("mixed dtype"), svertka computes in the input's dtype.
# A Python int beyond int64 where torch wants a float (OverflowError): svertka takes it as a
# float. A window bigger than memory (local_response_norm(size=2**40)): torch pads a copy and
# cannot allocate it, svertka clips the window to the channels and answers.
TORCH_ONLY_REFUSES = (TypeError, NotImplementedError, OverflowError)
# max_unpool's stride=() (torch indexes the empty tuple): svertka reads it as the default,
# as torch's max_pool does.
TORCH_ONLY_MESSAGES = ("mixed dtype", "expected scalar type", "can't allocate memory",
                       "without overflow", "tuple index out of range", "lambda must be in range")
# torch's pixel_unshuffle returns an empty input unchanged; svertka gives the shape the
# formula gives (C r^2, H / r, W / r).
EMPTY_SHAPE_DEPARTURES = {"pixel_unshuffle", "PixelUnshuffle", "pixel_shuffle", "PixelShuffle"}

# Functions that report errors under the name of the function they call, as torch's do:
# in-place variants (``relu_`` -> ``relu``) and the deprecated upsampling aliases.
ALIASES = {"upsample": "interpolate", "upsample_nearest": "interpolate",
           "upsample_bilinear": "interpolate"}


def _error_names(name):
    return {name, name.rstrip("_"), ALIASES.get(name, name)}


# Failures inside files this suite's owner may not change (tensor.py, _functions.py,
# _creation.py, kernels/conv.py): op -> (predicate on (args, kwargs), reason). Filled from
# the long fuzz runs; each is a known bug reported to its owner.
KNOWN_BUGS = {}  # op -> reason; empty: every bug the long runs found is fixed


# ----------------------------------------------------------------------------- hostile values

HUGE = [2**40, 2**62, 2**63, 2**64, 10**30, -(2**63) - 1]
INTS = [0, 1, 2, 3, -1, -2, -5] + HUGE
FLOATS = [0.0, 0.5, -1.0, 1.5, float("nan"), float("inf"), float("-inf"), 1e308, 2.0]
JUNK = [None, "x", "", "mean", True, b"1", [1.0], object()]


def _shapes(rank_max=5, size_max=4):
    return st.lists(st.integers(0, size_max), min_size=0, max_size=rank_max).map(tuple)


def _hostile_tensor(base):
    """A tensor like ``base`` but wrong: rank, size, dtype, contents, or emptiness."""
    shape = base.shape if isinstance(base, T) else (2, 3)
    kind = base.kind if isinstance(base, T) else "f"
    return st.one_of(
        _shapes().map(lambda s: T(*s, kind=kind, high=getattr(base, "high", 3))),
        st.sampled_from(["nan", "inf"]).map(lambda k: T(*shape, kind=k)),
        st.sampled_from(["float32", "float64"]).map(lambda d: T(*shape, dtype=d)),
        st.sampled_from(["i", "b"]).map(lambda k: T(*shape, kind=k)),
        st.just(T(*shape[:-1], 0) if shape else T(0)),
        st.just(T(*shape, kind="i", high=10**6)),
        st.just(T(*(shape[:1] + (0,) + shape[2:]) if len(shape) > 1 else (0,))),
    )


def _hostile(base):
    """A hostile replacement for an argument whose valid value is ``base``."""
    tuples = st.lists(st.sampled_from(INTS[:7] + [2**40, 2**63]), max_size=4).map(tuple)
    common = st.one_of(st.sampled_from(INTS), st.sampled_from(FLOATS),
                       st.sampled_from(JUNK), tuples)
    if isinstance(base, T):
        return st.one_of(_hostile_tensor(base), _hostile_tensor(base), common)
    return common


# ----------------------------------------------------------------------------- the property

class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang(f"call ran past {GUARD_S} s")


def _build(value, side, seed, default):
    if isinstance(value, T):
        a = value.array(seed, default)
        return svertka.tensor(a) if side == "sv" else torch.tensor(a)
    if isinstance(value, tuple):
        return tuple(_build(v, side, seed, default) for v in value)
    return value


def _run(fn, side, args, kwargs, default="float64"):
    """``fn`` on freshly built arguments (``side`` 'sv' or 'th'; tensors whose dtype is not
    given take ``default``): ``("ok", out)`` or ``("raise", exc)``."""
    seed = 0
    a = tuple(_build(v, side, seed + i, default) for i, v in enumerate(args))
    k = {name: _build(v, side, seed + 100 + i, default)
         for i, (name, v) in enumerate(kwargs.items())}
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(GUARD_S)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", fn(*a, **k)
    except _Hang:
        raise
    except Exception as e:              # noqa: BLE001 (the property sorts them out)
        return "raise", e
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _arrays(out):
    """Output(s) as a list of NumPy arrays (tuples flattened)."""
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _arrays(o)]
    if isinstance(out, torch.Tensor):
        return [out.detach().numpy()]
    if isinstance(out, svertka.Tensor):
        return [out.detach().numpy()]
    return [np.asarray(out)]


def _check(names, sv, th, call):
    """The fuzz property; ``names`` are the prefixes an error message may start with."""
    sv_status, sv_out = sv
    if sv_status == "raise":
        e = sv_out
        assert type(e) in (ValueError, TypeError), (
            f"{call}: svertka raised {type(e).__name__}: {e}")
        assert any(str(e).startswith(f"{n}:") for n in names), (
            f"{call}: message does not start with one of {sorted(names)[:4]}: {e}")
        return
    if th is None:                      # svertka only
        return
    th_status, th_out = th
    if th_status == "raise" and (type(th_out) in TORCH_ONLY_REFUSES
                                 or any(m in str(th_out) for m in TORCH_ONLY_MESSAGES)):
        return                          # a departure kept on purpose (the module docstring)
    assert th_status == "ok", (f"{call}: svertka returned, torch raised "
                               f"{type(th_out).__name__}: {th_out}")
    s_arrays, t_arrays = _arrays(sv_out), _arrays(th_out)
    empty = all(a.size == 0 for a in s_arrays + t_arrays)
    if call.split("(")[0] in EMPTY_SHAPE_DEPARTURES and empty:
        return
    assert [a.shape for a in s_arrays] == [a.shape for a in t_arrays], (
        f"{call}: shapes {[a.shape for a in s_arrays]} != torch "
        f"{[a.shape for a in t_arrays]}")
    if call.split("(")[0] in KNOWN_BUGS and "nan" in call:
        return                          # reported; pinned by an xfail test below
    for s, t in zip(s_arrays, t_arrays):
        if t.dtype.kind == "f" and s.dtype.kind == "f":
            bad = np.isnan(s) & np.isfinite(t)
            assert not bad.any(), f"{call}: NaN where torch gives {t[bad][:3]}"


def _mutate(data, args, kwargs, extra_slots=()):
    """Replace up to 3 of the arguments (and ``extra_slots``) with hostile values."""
    slots = [("a", i) for i in range(len(args))] + [("k", n) for n in kwargs] + list(
        extra_slots)
    args, kwargs = list(args), dict(kwargs)
    picked = data.draw(st.lists(st.sampled_from(slots), max_size=3, unique=True)
                       if slots else st.just([]), label="slots")
    replaced = {}
    for kind, key in picked:
        base = args[key] if kind == "a" else kwargs[key] if kind == "k" else key[1]
        replaced[(kind, key)] = data.draw(_hostile(base), label=f"{kind}{key}")
        if kind == "a":
            args[key] = replaced[(kind, key)]
        elif kind == "k":
            kwargs[key] = replaced[(kind, key)]
    return tuple(args), kwargs, replaced


FUNCTION_NAMES = set(F.__all__) if hasattr(F, "__all__") else {
    n for n in dir(F) if not n.startswith("_")}
PUBLIC_NAMES = FUNCTION_NAMES | set(LAYERS) | {
    "Tensor", "tensor", "flatten", "unflatten", "view", "reshape", "squeeze", "unsqueeze"}


def _public_functions():
    return sorted(n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))
                  and getattr(getattr(F, n), "__module__", "").startswith("svertka."))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_fuzz_functional_raises_ours_or_matches_torch_shape(name):
    sv_fn = getattr(F, name)
    th_fn = None if name in SVERTKA_ONLY else TORCH_NAME.get(name, getattr(TF, name, None))
    base_args, base_kwargs = CALLS[name]

    @SETTINGS
    @given(st.data())
    def run(data):
        args, kwargs, _ = _mutate(data, base_args, base_kwargs)
        call = f"{name}(*{args}, **{kwargs})"
        sv = _run(sv_fn, "sv", args, kwargs)
        th = None if th_fn is None or sv[0] == "raise" else _run(th_fn, "th", args, kwargs)
        if (sv[0] == "ok" and th is not None and th[0] == "raise" and name in DEPARTURES
                and "dilation" in kwargs):
            return
        _check(_error_names(name), sv, th, call)

    run()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_fuzz_layer_raises_ours_or_matches_torch_shape(name):
    sv_cls = getattr(nn, name)
    th_cls = None if name in SVERTKA_ONLY else getattr(torch.nn, name)
    ctor_args, ctor_kwargs, inputs = LAYERS[name]
    names = {name} | PUBLIC_NAMES

    @SETTINGS
    @given(st.data())
    def run(data):
        args, kwargs, _ = _mutate(data, ctor_args, ctor_kwargs)
        ins, _, _ = _mutate(data, inputs, {})

        def call_layer(cls):
            def make_and_call(*a, **k):
                inputs_built = k.pop("__inputs__")
                return cls(*a, **k)(*inputs_built)
            return make_and_call

        call = f"{name}(*{args}, **{kwargs})(*{ins})"
        k = dict(kwargs, __inputs__=ins)
        sv = _run(call_layer(sv_cls), "sv", args, k, "float32")   # both default to float32
        th = (None if th_cls is None or sv[0] == "raise"
              else _run(call_layer(th_cls), "th", args, k, "float32"))
        _check(names, sv, th, call)

    # Parameters in float32 on both sides, whatever another test left as the default.
    sv_default, th_default = svertka.get_default_dtype(), torch.get_default_dtype()
    svertka.set_default_dtype(svertka.float32)
    torch.set_default_dtype(torch.float32)
    try:
        run()
    finally:
        svertka.set_default_dtype(sv_default)
        torch.set_default_dtype(th_default)


def test_fuzz_tables_cover_every_public_op_and_layer():
    """A new op or layer must get a base call here (or the fuzzing silently skips it)."""
    assert set(_public_functions()) - set(CALLS) == set()
    layers = {n for n in dir(nn) if isinstance(getattr(nn, n), type)
              and issubclass(getattr(nn, n), nn.Module)}
    assert layers - set(LAYERS) - CONTAINERS - set(NOT_FUZZED) == set()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_fuzz_base_call_is_valid_in_both(name):
    """Each base call works in svertka and torch with the same output shape (so mutations
    start from a legal point)."""
    args, kwargs = CALLS[name]
    sv = _run(getattr(F, name), "sv", args, kwargs)
    assert sv[0] == "ok", sv[1]
    if name not in SVERTKA_ONLY:
        th = _run(TORCH_NAME.get(name, getattr(TF, name, None)), "th", args, kwargs)
        assert th[0] == "ok", th[1]
        _check({name}, sv, th, name)


# ----------------------------------------------------------------------------- findings

def _x(*shape, dtype=np.float64):
    return svertka.tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype))


# What the long fuzz runs found, pinned: each call gave a raw NumPy/Python error, a MemoryError,
# or an answer where torch refuses.
FINDINGS = [
    ("interpolate_huge_size", lambda: F.interpolate(_x(1, 1, 2, 2), size=2**40), ValueError,
     "interpolate: the output of shape"),
    ("interpolate_size_2pow62", lambda: F.upsample_bilinear(_x(1, 1, 2, 2), size=2**62),
     ValueError, "interpolate: the output of shape"),
    ("interpolate_no_channels", lambda: F.interpolate(_x(2, 0, 3, 3), scale_factor=2),
     ValueError, "interpolate: input must have a non-zero channel size"),
    ("one_hot_huge_classes", lambda: F.one_hot(svertka.tensor([1, 2]), 2**40), ValueError,
     "one_hot: the output of shape"),
    ("one_hot_classes_2pow63", lambda: F.one_hot(svertka.tensor([1, 2]), 2**63), ValueError,
     "one_hot: num_classes must be"),
    ("linear_huge", lambda: nn.Linear(2**40, 2**40), ValueError, "Linear: the weight of shape"),
    ("bilinear_zero_in1", lambda: nn.Bilinear(0, 5, 2), ValueError,
     "Bilinear: in1_features must be a positive int"),
    ("bilinear_negative", lambda: nn.Bilinear(3, -1, 2), ValueError,
     "Bilinear: in2_features must be a non-negative int"),
    ("pad_module_float", lambda: nn.ZeroPad2d(0.0), TypeError,
     "ZeroPad2d: padding must be an int or a tuple of 4 ints"),
    ("unflatten_size_int", lambda: nn.Unflatten(1, 0), TypeError,
     "Unflatten: unflattened_size must be a tuple of ints"),
    ("hardtanh_none", lambda: nn.Hardtanh(None, 1.0), TypeError, "Hardtanh: min_val must be"),
    ("relu_bool", lambda: F.relu(svertka.tensor([True, False])), TypeError,
     "relu: input must be a numeric tensor"),
    ("relu_inplace_bool", lambda: F.relu_(svertka.tensor([True, False])), TypeError,
     "relu: input must be a numeric tensor"),
    ("threshold_nan_on_ints", lambda: F.threshold(svertka.tensor([1, 2]), 0, float("nan")),
     ValueError, "threshold: value must be finite and within int64 for an integer input"),
    ("hardtanh_nan_on_ints", lambda: F.hardtanh(svertka.tensor([1, 2]), 0, float("nan")),
     ValueError, "hardtanh: max_val must be finite"),
    ("threshold_2pow63_on_ints", lambda: F.threshold(svertka.tensor([1, 2]), 0, 2**63),
     ValueError, "threshold: value must be finite and within int64"),
    ("nll_loss_ignore_2pow63", lambda: F.nll_loss(_x(4, 5), svertka.tensor([0, 1, 2, 3]),
                                                   ignore_index=2**63), ValueError,
     "nll_loss: ignore_index must be an int that fits in int64"),
    ("batch_norm_eps0_training", lambda: F.batch_norm(_x(4, 3), None, None, training=True,
                                                      eps=0), ValueError,
     "batch_norm: eps must be positive in training"),
    ("rms_norm_empty_shape", lambda: F.rms_norm(_x(), ()), ValueError,
     "rms_norm: normalized_shape must have at least one dim"),
    ("pixel_shuffle_huge", lambda: F.pixel_shuffle(_x(1, 0, 3, 3), 2**40), ValueError,
     "pixel_shuffle: upscale_factor must be a positive int"),
    ("unfold_no_channels", lambda: F.unfold(_x(2, 0, 5, 5), 2), ValueError,
     "unfold: input must have non-zero channel"),
    ("conv_transpose_huge_dilation", lambda: F.conv_transpose2d(
        _x(2, 4, 4, 4), _x(4, 3, 3, 3), padding=2**40, dilation=2**40), ValueError,
     "conv_transpose2d: the dilated input"),
    ("softshrink_nan", lambda: F.softshrink(_x(3), float("nan")), ValueError,
     "softshrink: lambd must be non-negative"),
    ("hardshrink_inf", lambda: F.hardshrink(_x(3), float("inf")), ValueError,
     "hardshrink: lambd must be non-negative"),
    ("pairwise_distance_eps_none", lambda: F.pairwise_distance(_x(2, 3), _x(2, 3), eps=None),
     TypeError, "pairwise_distance: eps must be a number"),
    ("bce_target_nan", lambda: F.binary_cross_entropy(
        svertka.tensor([0.5, 0.5]), svertka.tensor([0.5, float("nan")])), ValueError,
     r"binary_cross_entropy: target must hold values in \[0, 1\]"),
    ("conv_transpose_zero_kernel", lambda: F.conv_transpose2d(_x(1, 2, 3, 3), _x(2, 1, 3, 0)),
     ValueError, "conv_transpose2d: kernel sizes must be positive"),
    ("conv_zero_kernel", lambda: F.conv1d(_x(1, 2, 3), _x(1, 2, 0)), ValueError,
     "conv1d: kernel sizes must be positive"),
    ("fold_no_channels", lambda: F.fold(_x(2, 0, 9), (4, 4), 2), ValueError,
     "fold: input must have non-zero channel and block sizes"),
    ("avg_pool_divisor_2pow63", lambda: F.avg_pool2d(_x(1, 1, 4, 4), 2,
                                                      divisor_override=2**63),
     ValueError, "avg_pool2d: divisor_override must fit in int64"),
    ("cosine_similarity_dim_of_other", lambda: F.cosine_similarity(_x(), _x(4, 5), dim=0),
     None, None),
    ("flatten_0d_start_dim", lambda: F.flatten(_x(), 1), ValueError,
     r"flatten: start_dim out of range"),
    ("flatten_module_0d", lambda: nn.Flatten()(_x()), ValueError,
     r"flatten: start_dim out of range"),
]


@pytest.mark.parametrize("call, exc, match", [f[1:] for f in FINDINGS],
                         ids=[f[0] for f in FINDINGS])
def test_fuzz_findings_raise_our_errors(call, exc, match):
    if exc is None:                     # must answer (as torch does)
        call()
        return
    with pytest.raises(exc, match=match):
        call()


LAYER_FINDINGS = [
    ("conv_huge_channels", lambda: nn.Conv3d(2**40, 4, 2), ValueError, "Conv3d: the weight"),
    ("conv_channels_2pow62", lambda: nn.Conv2d(2**62, 4, 2), ValueError, "Conv2d: the weight"),
    ("locally_connected_huge", lambda: nn.LocallyConnected2d(2**40, 2, (4, 4), 2), ValueError,
     "LocallyConnected2d: the weight"),
    ("pairwise_keepdim_float", lambda: nn.PairwiseDistance(keepdim=0.0)(_x(2, 3), _x(2, 3)),
     TypeError, "pairwise_distance: keepdim must be a bool"),
    ("replication_pad_empty_dim", lambda: nn.ReplicationPad1d(2)(_x(2, 3, 0)), ValueError,
     "pad: mode='replicate' needs non-zero dims"),
    ("reflection_pad_empty_channels", lambda: nn.ReflectionPad2d(1)(_x(2, 0, 3, 3)),
     ValueError, "pad: mode='reflect' needs non-zero dims"),
    ("unpool_huge_kernel", lambda: F.max_unpool2d(_x(1, 1, 2, 2),
                                                  svertka.tensor(np.zeros((1, 1, 2, 2), int)),
                                                  2**40), ValueError, "max_unpool2d: the output"),
    ("upsample_scale_1e308", lambda: nn.UpsamplingNearest2d(scale_factor=1e308)(_x(1, 1, 2, 2)),
     ValueError, "interpolate: scale_factor is too large"),
    ("conv_transpose_empty_spatial", lambda: nn.ConvTranspose2d(4, 6, 3)(_x(2, 4, 4, 0,
                                                                            dtype=np.float32)),
     ValueError, "conv_transpose2d: input must have non-zero spatial sizes"),
    ("bilinear_zero_out", lambda: nn.Bilinear(3, 5, 0)(
        svertka.tensor(np.ones((4, 3), np.float32), requires_grad=True),
        _x(4, 5, dtype=np.float32)).sum().backward(), None, None),
]


@pytest.mark.parametrize("call, exc, match", [f[1:] for f in LAYER_FINDINGS],
                         ids=[f[0] for f in LAYER_FINDINGS])
def test_fuzz_layer_findings_raise_our_errors(call, exc, match):
    test_fuzz_findings_raise_our_errors(call, exc, match)


def test_upsample_bilinear_same_size_keeps_nan_in_place_as_torch():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    x[0, 0, 1, 1] = np.nan
    y = F.upsample_bilinear(svertka.tensor(x), scale_factor=1)
    t = TF.interpolate(torch.tensor(x), scale_factor=1, mode="bilinear", align_corners=True)
    np.testing.assert_array_equal(y.numpy(), t.numpy())


def test_threshold_nan_threshold_keeps_input_as_torch():
    x = np.array([-1.0, 0.5, 2.0])
    y = F.threshold(svertka.tensor(x), float("nan"), float("nan"))
    np.testing.assert_array_equal(
        y.numpy(), TF.threshold(torch.tensor(x), float("nan"), float("nan")).numpy())


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_nan_weight_gives_torch_nan_pattern(n, stride):
    """Found by the fuzz run: ``conv_transpose3d(x (1,2,3,3,3), w (2,2,2,2,2) holding one NaN,
    stride=1)`` gave NaN where torch gives finite values (the stride-1 input gradient as a
    convolution multiplied the zero padding by the NaN). The transposed forward and the
    input gradient of a convolution, with one NaN weight, have torch's NaN positions."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 2) + (5,) * n), rng.standard_normal((2, 2) + (3,) * n)
    w.reshape(-1)[5] = np.nan
    sv, th = getattr(F, f"conv_transpose{n}d"), getattr(TF, f"conv_transpose{n}d")
    y = sv(svertka.tensor(x), svertka.tensor(w), stride=stride, padding=1).numpy()
    t = th(torch.tensor(x), torch.tensor(w), stride=stride, padding=1).numpy()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(t))
    xs, xt = svertka.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys = getattr(F, f"conv{n}d")(xs, svertka.tensor(w), stride=stride, padding=1)
    yt = getattr(TF, f"conv{n}d")(xt, torch.tensor(w), stride=stride, padding=1)
    gy = rng.standard_normal(tuple(yt.shape))
    ys.backward(svertka.tensor(gy))
    yt.backward(torch.tensor(gy))
    np.testing.assert_array_equal(np.isnan(xs.grad.numpy()), np.isnan(xt.grad.numpy()))
