"""The ONNX operators svertka imports: one handler per ``op_type``.

A handler ``handler(b, node, attrs)`` reads the node's attributes (and, through the builder
``b`` of ``_import.py``, which inputs are initializers), registers modules it owns, and returns
``run(*inputs)``, the node's computation. Values are svertka Tensors (anything that depends on
a float graph input, so autograd follows it) or NumPy arrays (shapes, indices, integer data,
constants); a ``run`` whose inputs are all NumPy arrays returns NumPy arrays, which is how the
shape subgraphs exporters emit are folded.
"""

from __future__ import annotations

import numpy as np

import svertka.nn.functional as F
from svertka.onnx import _layers as L
from svertka.onnx import _tensor_ops as T
from svertka.onnx._values import Unsupported, as_value, to_output  # noqa: F401

#: input positions that must be known when the node runs (shapes, axes, scales, pads): a float
#: initializer read there stays a constant rather than becoming a parameter
STATIC = {
    "Reshape": {1}, "Squeeze": {1}, "Unsqueeze": {1}, "Pad": {1, 2, 3}, "Clip": {1, 2},
    "Resize": {1, 2, 3}, "Upsample": {1}, "Slice": {1, 2, 3, 4}, "ReduceMean": {1},
    "ReduceSum": {1},
    "Dropout": {1, 2}, "ConstantOfShape": {0}, "Gather": {1},
}
#: never folded at load time
VOLATILE = {"Dropout"}


HANDLERS = {
    "Conv": L._conv, "ConvTranspose": L._conv_transpose, "Gemm": L._gemm,
    "MatMul": L._matmul, "BatchNormalization": L._batch_norm, "LRN": L._lrn,
    "MaxPool": L._pool("max"), "AveragePool": L._pool("avg"),
    "GlobalAveragePool": L._global_pool("avg"), "GlobalMaxPool": L._global_pool("max"),
    "Relu": L._unary(F.relu), "Sigmoid": L._unary(F.sigmoid), "Tanh": L._unary(F.tanh),
    "LeakyRelu": L._leaky_relu, "PRelu": L._prelu, "Elu": L._elu, "Selu": L._selu,
    "Softmax": L._softmax(F.softmax), "LogSoftmax": L._softmax(F.log_softmax),
    "Clip": L._clip, "Dropout": L._dropout,
    "Add": T._binary(np.add, lambda x, y: x + y),
    "Sub": T._binary(np.subtract, lambda x, y: x - y),
    "Mul": T._binary(np.multiply, lambda x, y: x * y),
    "Div": T._binary(np.divide, lambda x, y: x / y),
    "Concat": T._concat, "Flatten": T._flatten, "Reshape": T._reshape,
    "Transpose": T._transpose, "Squeeze": T._squeeze, "Unsqueeze": T._unsqueeze,
    "Gather": T._gather, "Slice": T._slice, "Pad": T._pad, "Resize": T._resize,
    "Upsample": T._upsample, "Cast": T._cast, "Shape": T._shape, "Constant": T._constant,
    "ConstantOfShape": T._constant_of_shape, "ReduceMean": T._reduce_mean,
    "Identity": T._identity, "ReduceSum": T._reduce_sum,
    # elementwise math and the comparisons of an exported atan2 (ONNX has no Atan2)
    "Neg": T._unary(np.negative, lambda x: -x), "Abs": T._unary(np.abs, lambda x: x.abs()),
    "Sqrt": T._unary(np.sqrt, lambda x: x.sqrt()),
    "Floor": T._unary(np.floor, lambda x: x.floor()),
    "Sign": T._unary(np.sign, lambda x: x.sign()),
    "Atan": T._unary(np.arctan, lambda x: x.atan2(1.0)),
    "Less": T._compare(np.less), "Greater": T._compare(np.greater),
    "Equal": T._compare(np.equal), "Where": T._where,
}
