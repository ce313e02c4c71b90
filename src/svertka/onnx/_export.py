"""ONNX export: trace a model's forward through svertka's own graph and write an ONNX model.

``export`` runs the forward once on example inputs that require a gradient, inside
``autograd.function.keep_calls()``, so that every node of the recorded graph keeps the
arguments of its call (``ctx.call = (args, kwargs)``: the stride of a convolution, the running
statistics of a batch norm, a Python scalar). It then walks the graph from the outputs back to
the inputs (the graph, not a tape of calls: an in-place op such as ``relu(x, inplace=True)``
adopts its result's node, so the walk sees the value each op really read) and translates each
node with the entry of ``_TRANSLATE`` for its ``Function`` class. Forward hooks on the modules
tag each node with the path of the innermost module that made it (``layer1.0.conv1``): the
ONNX node names, and the module named in an error.

Parameters and buffers become initializers under their ``state_dict`` names; other constants
(a scalar, a tensor made inside ``forward``) become anonymous initializers. As in torch, the
export traces: Python control flow is frozen at the example's path. Comparisons of Tensors
(``x > 0``, ``==``, ``&``, ``|``, ``~``) have no node, since bool results have no gradient,
but inside the trace each notes how its array was made (``keep_calls().bools``), so a mask
read by ``where``/``masked_fill`` or multiplied in (``(x > 0).float() * x``) becomes
Greater/Equal/And/Not/Cast nodes. A value computed outside svertka's ops (NumPy code,
``.item()``, a mask indexed or reshaped before use) cannot be recorded and would become a
constant frozen at the example's value, so ``export`` traces the forward a second time on a
perturbed copy of the inputs (the same shapes, the same random draws) and refuses, naming the
node that reads it, any constant or node that is not the same in both traces (torch exports
such graphs with a TracerWarning).
"""

from __future__ import annotations

import io
import math
import numbers
import warnings

import numpy as np

from svertka import nn
from svertka import random as _random
from svertka.autograd import function as _function
from svertka.autograd import grad_mode
from svertka.ops import activation as A
from svertka.ops import conv as C
from svertka.ops import dropout as D
from svertka.ops import elementwise as E
from svertka.ops import linear as L
from svertka.ops import matmul as MM
from svertka.ops import movement as M
from svertka.ops import norm as N
from svertka.ops import pad as P
from svertka.ops import pool as PL
from svertka.ops import reduce as R
from svertka.ops import vision as VI
from svertka.serialization import _write
from svertka.tensor import Tensor

__all__ = ["export", "UnsupportedOperatorError"]

_FN = "export"
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


class UnsupportedOperatorError(ValueError):
    """An op of the traced forward has no ONNX translation (torch's
    ``torch.onnx.errors.UnsupportedOperatorError``); the message names the op and the module."""


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError('export: the onnx package is needed to write ONNX files: pip install '
                          '"svertka[onnx]"') from None
    return onnx


# ----------------------------------------------------------------------------- the graph

class _Node:
    """One recorded op as the translators see it: its inputs as ONNX value names
    (``inp(i)``), its raw arguments, parameters, shapes, and where it sits in the model."""

    def __init__(self, g, ctx, path):
        self.g = g
        self.ctx = ctx
        self.fn = ctx.fn
        self.args, self.kwargs, self.out_shape, self.dtype = ctx.call
        self.path = path

    def shape(self, i):
        a = self.args[i]
        return tuple(a.shape) if isinstance(a, (Tensor, np.ndarray)) else ()

    def inp(self, i, dtype=None):
        """ONNX name of positional input ``i`` ('' for None); constants in ``dtype``
        (default: the op's output dtype) when they are Python scalars."""
        a = self.args[i]
        parent = self.ctx.parents[i] if i < len(self.ctx.parents) else None
        if parent is not None:
            return self.g.values[id(parent)]
        if a is None:
            return ""
        data = a._data if isinstance(a, Tensor) else a
        if id(data) in self.g.bools:
            return _mask(self, data)
        return self.g.leaf(a, self.dtype if dtype is None else dtype)

    def op(self, op_type, inputs, n_out=1, **attrs):
        return self.g.op(op_type, inputs, self.path, n_out, **attrs)

    def const(self, value, dtype=None):
        return self.g.const(np.asarray(value, dtype=dtype))

    def ints(self, values):
        return self.g.const(np.asarray(values, dtype=np.int64))

    def unsupported(self, why):
        where = f" in module '{self.path}'" if self.path else ""
        raise UnsupportedOperatorError(
            f"{_FN}: {self.fn.__name__}{where} {why} (svertka.onnx.export translates the ops "
            f"listed in svertka.onnx.supported_ops())")


class _Graph:
    def __init__(self, model, opset):
        onnx = _onnx()
        self.helper = onnx.helper
        self.numpy_helper = onnx.numpy_helper
        self.opset = opset
        self.nodes = []
        self.initializers = {}      # name -> ndarray (TensorProtos are made once, at the end)
        self.values = {}            # id(ctx) -> ONNX value name
        self.inputs = {}            # id(input tensor) -> name
        self.names = set()
        self.counts = {}
        self.origin = {}            # ONNX node name -> (svertka op, module path) that made it
        self.current = ("", "")     # the svertka op being translated, and its module
        # parameters and buffers by identity and by memory (an op may receive a view)
        self.named = {}
        self.by_memory = {}
        for kind in (model.named_parameters(), model.named_buffers()):
            for name, t in kind:
                self.named[id(t)] = (name, t)
                a = t._data
                if a.size:
                    self.by_memory[(a.__array_interface__["data"][0], a.nbytes)] = (name, t)
        self.state_names = {name for name, _ in self.named.values()}
        self.bools = {}             # the comparisons of the trace (see keep_calls)
        self.masks = {}             # id(bool array) -> its ONNX value, once translated

    def unique(self, base):
        k = self.counts.get(base, 0)
        self.counts[base] = k + 1
        name = base if k == 0 and base not in self.names else f"{base}_{k}"
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def op(self, op_type, inputs, path="", n_out=1, **attrs):
        prefix = f"/{path.replace('.', '/')}/" if path else "/"
        node_name = self.unique(f"{prefix}{op_type}")
        outs = [self.unique(f"{node_name}_output_{i}") for i in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, name=node_name,
                                                **attrs))
        self.origin[node_name] = self.current
        return outs[0] if n_out == 1 else outs

    def initializer(self, array, name):
        self.initializers[name] = np.ascontiguousarray(array)
        self.names.add(name)
        return name

    def const(self, array, base="const"):
        return self.initializer(array, self.unique(f"/{base}"))

    def leaf(self, a, dtype):
        """Name of a value that no recorded op made: an input, a parameter or buffer (its
        state_dict name), or a constant."""
        if isinstance(a, Tensor) and id(a) in self.inputs:
            return self.inputs[id(a)]
        if isinstance(a, Tensor) and id(a) in self.named:
            name, t = self.named[id(a)]
            return name if name in self.initializers else self.initializer(t._data, name)
        data = a._data if isinstance(a, Tensor) else a
        if isinstance(data, np.ndarray) and data.size:
            hit = self.by_memory.get((data.__array_interface__["data"][0], data.nbytes))
            if hit is not None and hit[1]._data.shape == data.shape:
                name = hit[0]
                return name if name in self.initializers else self.initializer(data, name)
        if isinstance(data, (numbers.Number, np.generic)) and not isinstance(data, bool):
            data = np.asarray(data, dtype=dtype)
        return self.const(np.asarray(data))


# ----------------------------------------------------------------------------- translations

def _same(op_type, **fixed):
    def tr(n):
        return n.op(op_type, [n.inp(0)], **fixed)
    tr.__name__ = op_type
    return tr


def _binary(op_type):
    def tr(n):
        return n.op(op_type, [n.inp(0), n.inp(1)])
    return tr


def _spatial_pads(pads):
    return [lo for lo, _ in pads] + [hi for _, hi in pads]


def _conv(n):
    stride, pads, dilation, groups = (n.kwargs[k] for k in ("stride", "pads", "dilation",
                                                           "groups"))
    ins = [n.inp(0), n.inp(1)] + ([n.inp(2)] if n.args[2] is not None else [])
    return n.op("Conv", ins, kernel_shape=list(n.shape(1)[2:]), strides=list(stride),
                pads=_spatial_pads(pads), dilations=list(dilation), group=groups)


def _conv_transpose(n):
    stride, pads, dilation, groups, out = (n.kwargs[k] for k in ("stride", "pads", "dilation",
                                                                "groups", "out"))
    k = n.shape(1)[2:]
    i = n.shape(0)[2:]
    # the output size without output_padding, as ONNX computes it; the rest is output_padding
    base = [(i_ - 1) * s - lo - hi + d * (k_ - 1) + 1
            for i_, s, (lo, hi), d, k_ in zip(i, stride, pads, dilation, k)]
    extra = [o - b for o, b in zip(out, base)]
    ins = [n.inp(0), n.inp(1)] + ([n.inp(2)] if n.args[2] is not None else [])
    return n.op("ConvTranspose", ins, kernel_shape=list(k), strides=list(stride),
                pads=_spatial_pads(pads), dilations=list(dilation), group=groups,
                output_padding=extra if any(extra) else None)


def _linear(n):
    x, w = n.inp(0), n.inp(1)
    has_bias = n.args[2] is not None
    if len(n.shape(0)) == 2:
        return n.op("Gemm", [x, w] + ([n.inp(2)] if has_bias else []), transB=1)
    y = n.op("MatMul", [x, n.op("Transpose", [w], perm=[1, 0])])
    return n.op("Add", [y, n.inp(2)]) if has_bias else y


def _matmul(n):
    return n.op("MatMul", [n.inp(0), n.inp(1)])


def _max_pool(n):
    kernel, stride, pads, dilation, ceil = (n.kwargs[k] for k in ("kernel", "stride", "pads",
                                                                 "dilation", "ceil_mode"))
    return n.op("MaxPool", [n.inp(0)], kernel_shape=list(kernel), strides=list(stride),
                pads=_spatial_pads(pads), dilations=list(dilation), ceil_mode=int(ceil))


def _avg_pool(n):
    kw = n.kwargs
    if kw["divisor_override"] is not None:
        n.unsupported(f"with divisor_override={kw['divisor_override']} has no ONNX counterpart")
    dil = list(kw["dilation"])
    if any(d != 1 for d in dil) and n.g.opset < 19:
        n.unsupported(f"with dilation={tuple(dil)} needs opset_version >= 19")
    return n.op("AveragePool", [n.inp(0)], kernel_shape=list(kw["kernel"]),
                strides=list(kw["stride"]), pads=_spatial_pads(kw["pads"]),
                ceil_mode=int(kw["ceil_mode"]), count_include_pad=int(kw["count_include_pad"]),
                dilations=dil if any(d != 1 for d in dil) else None)


def _adaptive_avg_pool(n):
    out = tuple(n.kwargs["out"])
    spatial = n.shape(0)[-len(out):]
    x = n.inp(0)
    if len(spatial) == len(n.shape(0)) - 2 and all(o == 1 for o in out):
        return n.op("GlobalAveragePool", [x])
    if len(spatial) == len(n.shape(0)) - 2 and all(s % o == 0 for s, o in zip(spatial, out)):
        k = [s // o for s, o in zip(spatial, out)]
        return n.op("AveragePool", [x], kernel_shape=k, strides=k)
    # unequal bins: adaptive averaging is separable, one constant (O, L) matrix per axis
    y = x
    for ax, (size, o) in enumerate(zip(spatial, out)):
        mat = _adaptive_matrix(size, o, n.dtype)                    # (O, L)
        perm = list(range(len(n.shape(0))))
        axis = len(perm) - len(out) + ax
        perm[axis], perm[-1] = perm[-1], perm[axis]
        last = axis == len(perm) - 1
        t = y if last else n.op("Transpose", [y], perm=perm)         # that axis last
        t = n.op("MatMul", [t, n.const(mat.T)])                      # (..., O)
        y = t if last else n.op("Transpose", [t], perm=perm)
    return y


def _adaptive_matrix(size, o, dtype):
    """``(O, L)`` matrix whose row ``i`` averages torch's adaptive bin ``i``:
    ``[floor(i L / O), ceil((i + 1) L / O))``."""
    i = np.arange(o)
    start, end = (i * size) // o, -((-(i + 1) * size) // o)
    pos = np.arange(size)
    inside = (pos >= start[:, None]) & (pos < end[:, None])          # (O, L)
    return (inside / (end - start)[:, None]).astype(dtype)


def _normalize(n):
    kw = n.kwargs
    x_shape = n.shape(0)
    w = n.inp(1) if n.args[1] is not None else None
    b = n.inp(2) if n.args[2] is not None else None
    if not kw["batch_stats"] and kw.get("per_channel"):
        # batch norm with running statistics (eval mode)
        C_ = x_shape[1]
        mean = np.asarray(kw["mean"]).reshape(-1)
        var = np.asarray(kw["var"]).reshape(-1)
        ins = [n.inp(0), w or n.const(np.ones(C_, n.dtype)), b or n.const(np.zeros(C_, n.dtype)),
               n.g.leaf(mean, n.dtype), n.g.leaf(var, n.dtype)]
        return n.op("BatchNormalization", ins, epsilon=float(kw["eps"]))
    if not kw["batch_stats"]:
        n.unsupported("with fixed statistics other than batch norm's has no translation")
    # batch statistics (layer, group, instance norm; batch norm in training mode):
    # normalise in the statistics view, then scale and shift
    stat = list(kw["stat_shape"])
    stat[0] = -1                                     # the leading (batch) dim follows the input
    axes = list(kw["axes"])
    xs = n.op("Reshape", [n.inp(0), n.ints(stat)])
    mean = _reduce_mean(n, xs, axes)
    d = n.op("Sub", [xs, mean])
    var = _reduce_mean(n, n.op("Mul", [d, d]), axes)
    std = n.op("Sqrt", [n.op("Add", [var, n.const(kw["eps"], n.dtype)])])
    y = n.op("Reshape", [n.op("Div", [d, std]), n.op("Shape", [n.inp(0)])])
    wshape = n.ints(list(kw["wshape"]))
    if w is not None:
        y = n.op("Mul", [y, n.op("Reshape", [w, wshape])])
    if b is not None:
        y = n.op("Add", [y, n.op("Reshape", [b, wshape])])
    return y


def _reduce_mean(n, x, axes, keepdims=1):
    if n.g.opset >= 18:
        return n.op("ReduceMean", [x, n.ints(axes)], keepdims=keepdims)
    return n.op("ReduceMean", [x], axes=list(axes), keepdims=keepdims)


def _reduce(op_type):
    def tr(n):
        axis = n.kwargs.get("axis")
        keep = int(bool(n.kwargs.get("keepdim", False)))
        if n.kwargs.get("dtype") is not None:
            n.unsupported("with a dtype argument has no translation")
        axes = None if axis is None else [int(a) for a in np.atleast_1d(axis)]
        if op_type == "ReduceSum" or n.g.opset >= 18:
            ins = [n.inp(0)] + ([n.ints(axes)] if axes is not None else [])
            return n.op(op_type, ins, keepdims=keep)
        return n.op(op_type, [n.inp(0)], axes=axes, keepdims=keep)
    return tr


def _batch_dim_shape(n, shape):
    """A target shape whose leading dim is written as 0 (copy the input's) where it equals the
    input's leading dim, so that a dynamic batch axis passes through reshapes."""
    shape = [int(s) for s in shape]
    x_shape = n.shape(0)
    if shape and x_shape and shape[0] == x_shape[0] and shape[0] != 0:
        shape[0] = 0
    return shape


def _reshape(n):
    return n.op("Reshape", [n.inp(0), n.ints(_batch_dim_shape(n, n.out_shape))])


def _permute(n):
    axes = n.kwargs.get("axes")
    perm = list(range(len(n.shape(0))))[::-1] if axes is None else [int(a) for a in axes]
    return n.op("Transpose", [n.inp(0)], perm=perm)


def _expand(n):
    return n.op("Expand", [n.inp(0), n.ints(_batch_dim_shape(n, n.out_shape))])


def _cat(n):
    return n.op("Concat", [n.inp(i) for i in range(len(n.args))], axis=int(n.kwargs["axis"]))


def _getitem(n):
    index = n.kwargs["index"]
    index = index if isinstance(index, tuple) else (index,)
    rank = len(n.shape(0))
    if any(not isinstance(i, (slice, int, np.integer, type(Ellipsis))) or isinstance(i, bool)
           for i in index) or sum(i is Ellipsis for i in index) > 1:
        n.unsupported(f"with the index {index!r} has no translation (basic slices and integers "
                      f"only)")
    if Ellipsis in index:
        k = index.index(Ellipsis)
        index = index[:k] + (slice(None),) * (rank - len(index) + 1) + index[k + 1:]
    starts, ends, axes, steps, squeeze = [], [], [], [], []
    for axis, i in enumerate(index):
        if isinstance(i, slice):
            if i == slice(None):
                continue
            step = 1 if i.step is None else int(i.step)
            start = (0 if step > 0 else -1) if i.start is None else int(i.start)
            end = (_INT64_MAX if step > 0 else _INT64_MIN) if i.stop is None else int(i.stop)
        else:
            start, end, step = int(i), (int(i) + 1) or _INT64_MAX, 1
            squeeze.append(axis)
        starts.append(start)
        ends.append(end)
        axes.append(axis)
        steps.append(step)
    y = n.inp(0)
    if axes:
        y = n.op("Slice", [y, n.ints(starts), n.ints(ends), n.ints(axes), n.ints(steps)])
    if squeeze:
        y = n.op("Squeeze", [y, n.ints(squeeze)])
    if not axes and not squeeze:
        y = n.op("Identity", [y])
    return y


def _pad(n):
    pads, mode, value = n.kwargs.get("pads", ()), n.kwargs.get("mode", "constant"), \
        n.kwargs.get("value", 0.0)
    rank = len(n.shape(0))
    lead = rank - len(pads)
    lo = [0] * lead + [int(p[0]) for p in pads]
    hi = [0] * lead + [int(p[1]) for p in pads]
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
                 "circular": "wrap"}.get(mode)
    if onnx_mode is None or (onnx_mode == "wrap" and n.g.opset < 19):
        n.unsupported(f"with mode={mode!r} has no translation at opset {n.g.opset}")
    ins = [n.inp(0), n.ints(lo + hi)]
    if onnx_mode == "constant":
        ins.append(n.const(value or 0.0, n.dtype))
    return n.op("Pad", ins, mode=onnx_mode)


def _pointwise_params(n, **defaults):
    for k, v in n.kwargs.items():
        if k in defaults and v != defaults[k]:
            n.unsupported(f"with {k}={v!r} has no translation")


def _hardtanh(n):
    lo, hi = n.kwargs.get("min_val", -1.0), n.kwargs.get("max_val", 1.0)
    return n.op("Clip", [n.inp(0), n.const(lo, n.dtype), n.const(hi, n.dtype)])


def _clamp(n):
    lo, hi = n.kwargs.get("min"), n.kwargs.get("max")
    ins = [n.inp(0), "" if lo is None else n.const(lo, n.dtype),
           "" if hi is None else n.const(hi, n.dtype)]
    return n.op("Clip", ins)


def _leaky_relu(n):
    return n.op("LeakyRelu", [n.inp(0)], alpha=float(n.kwargs.get("negative_slope", 0.01)))


def _elu(n):
    alpha = float(n.kwargs.get("alpha", 1.0))
    scale, input_scale = n.kwargs.get("scale", 1.0), n.kwargs.get("input_scale", 1.0)
    if input_scale != 1.0:
        n.unsupported(f"with input_scale={input_scale} has no translation")
    if scale == 1.0:
        return n.op("Elu", [n.inp(0)], alpha=alpha)
    return n.op("Selu", [n.inp(0)], alpha=alpha, gamma=float(scale))


def _gelu(n):
    if n.kwargs.get("approximate", "none") != "none":
        n.unsupported(f"with approximate={n.kwargs['approximate']!r} has no translation")
    x = n.inp(0)
    e = n.op("Erf", [n.op("Div", [x, n.const(math.sqrt(2.0), n.dtype)])])
    half = n.op("Mul", [x, n.const(0.5, n.dtype)])
    return n.op("Mul", [half, n.op("Add", [e, n.const(1.0, n.dtype)])])


def _silu(n):
    x = n.inp(0)
    return n.op("Mul", [x, n.op("Sigmoid", [x])])


def _hardswish(n):
    if n.g.opset >= 14:
        return n.op("HardSwish", [n.inp(0)])
    x = n.inp(0)
    return n.op("Mul", [x, n.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)])


def _softplus(n):
    _pointwise_params(n, beta=1.0)
    return n.op("Softplus", [n.inp(0)])


def _prelu(n):
    rank = len(n.shape(0))
    w = n.inp(1)
    if rank >= 2 and n.shape(1) != (1,):
        w = n.op("Reshape", [w, n.ints([-1] + [1] * (rank - 2))])
    return n.op("PRelu", [n.inp(0), w])


def _softmax(op_type):
    def tr(n):
        x = n.inp(0)
        if n.kwargs.get("sign", 1) == -1:
            x = n.op("Neg", [x])
        return n.op(op_type, [x], axis=int(n.kwargs.get("dim", -1)))
    return tr


def _glu(n):
    # two Slices rather than a Split: the simpler op, read by more importers (svertka's too)
    dim = int(n.kwargs.get("dim", -1))
    half = n.shape(0)[dim] // 2
    a = n.op("Slice", [n.inp(0), n.ints([0]), n.ints([half]), n.ints([dim])])
    b = n.op("Slice", [n.inp(0), n.ints([half]), n.ints([2 * half]), n.ints([dim])])
    return n.op("Mul", [a, n.op("Sigmoid", [b])])


def _shuffle(n, r, up):
    shape = n.shape(0)
    if len(shape) != 4:
        n.unsupported(f"of a {len(shape)}-D input has no translation (4-D only)")
    if up:
        return n.op("DepthToSpace", [n.inp(0)], blocksize=r, mode="CRD")
    N_, C_, H, W = shape
    x = n.op("Reshape", [n.inp(0), n.ints([0, C_, H // r, r, W // r, r])])
    x = n.op("Transpose", [x], perm=[0, 1, 3, 5, 2, 4])             # (N, C, r, r, H/r, W/r)
    return n.op("Reshape", [x, n.ints([0, C_ * r * r, H // r, W // r])])


def _interpolate(n):
    """Resizing as svertka computes it: per resized axis, a Gather of the source indices
    (times the linear weights, summed over the two taps). Exact for every mode and
    scale-factor rounding rule, and the batch axis stays free; ONNX's Resize would need
    opset 18's ``axes`` for that and has its own rounding of the scales."""
    kw = n.kwargs
    size, mode = tuple(kw.get("size", ())), kw.get("mode", "nearest")
    x_shape = n.shape(0)
    lead = len(x_shape) - len(size)
    sf = kw.get("scale_factors") or (None,) * len(size)
    y = n.inp(0)
    for axis, O, s in zip(range(lead, len(x_shape)), size, sf):
        I = x_shape[axis]
        if mode == "linear":
            i0, i1, w0, w1 = VI.linear_weights(I, O, kw.get("align_corners", False), s)
            taps = [(i0, w0), (i1, w1)]
        else:
            idx = VI.nearest_index(I, O, s, mode == "nearest-exact", np.dtype(n.dtype).type,
                                   len(size) == 2)
            if np.array_equal(idx, np.arange(I)):
                continue
            taps = [(idx, None)]
        parts = []
        for idx, w in taps:
            part = n.op("Gather", [y, n.ints(idx)], axis=axis)
            if w is not None:
                shape = [1] * len(x_shape)
                shape[axis] = O
                part = n.op("Mul", [part, n.const(w.astype(n.dtype).reshape(shape))])
            parts.append(part)
        y = parts[0] if len(parts) == 1 else n.op("Add", parts)
    return y


def _lrn(n):
    kw = n.kwargs
    return n.op("LRN", [n.inp(0)], size=int(kw["size"]), alpha=float(kw["alpha"]),
                beta=float(kw["beta"]), bias=float(kw["k"]))


def _dropout(n):
    n.unsupported("(dropout in training mode) has no deterministic translation: export puts "
                  "the model in eval mode, so this dropout was called with training=True")


def _where(n):
    return n.op("Where", [_mask(n, n.args[0]), n.inp(1), n.inp(2)])


# comparisons of Tensors (noted by keep_calls) as ONNX ops; "Not" of the first where negated
_COMPARE = {np.equal: ("Equal", False), np.not_equal: ("Equal", True),
            np.less: ("Less", False), np.less_equal: ("LessOrEqual", False),
            np.greater: ("Greater", False), np.greater_equal: ("GreaterOrEqual", False),
            np.logical_and: ("And", False), np.logical_or: ("Or", False),
            np.logical_xor: ("Xor", False), np.logical_not: ("Not", False)}


def _mask(n, array):
    """ONNX name of a bool array an op reads: the comparison that made it, where a Tensor
    comparison of the trace did, else a constant (a mask that depends on the input without a
    traced comparison is refused by the second trace: see ``_check_same_graph``)."""
    hit = n.g.bools.get(id(array))
    if hit is None or hit[0] is not array or (hit[1] not in _COMPARE
                                              and hit[1] is not np.ndarray.astype):
        return n.g.leaf(np.asarray(array), np.asarray(array).dtype)
    if id(array) in n.g.masks:
        return n.g.masks[id(array)]
    _, ufunc, operands = hit
    if ufunc is np.ndarray.astype:          # a mask cast to numbers
        y = n.op("Cast", [_operand(n, operands[0], np.bool_)],
                 to=n.g.helper.np_dtype_to_tensor_dtype(array.dtype))
        n.g.masks[id(array)] = y
        return y
    op_type, negate = _COMPARE[ufunc]
    datas = [t._data if isinstance(t, Tensor) else t for t in operands]
    common = np.result_type(*datas) if op_type not in ("And", "Or", "Xor", "Not") else np.bool_
    names = [_operand(n, t, common) for t in operands]
    y = n.op(op_type, names)
    y = n.op("Not", [y]) if negate else y
    n.g.masks[id(array)] = y
    return y


def _operand(n, t, dtype):
    """ONNX name of a comparison's operand ``t`` (a Tensor or a Python scalar) in ``dtype``."""
    if not isinstance(t, Tensor):
        return n.g.leaf(np.asarray(t, dtype=dtype), dtype)
    if t._data.dtype == np.bool_ and t._ctx is None and id(t) not in n.g.inputs:
        name = _mask(n, t._data)
    elif t._ctx is not None and id(t._ctx) in n.g.values:
        name = n.g.values[id(t._ctx)]
    else:
        name = n.g.leaf(t, t._data.dtype)
    if t._data.dtype != dtype:
        name = n.op("Cast", [name], to=n.g.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
    return name


def _cast(n):
    return n.op("Cast", [n.inp(0)], to=n.g.helper.np_dtype_to_tensor_dtype(np.dtype(n.dtype)))


def _clone(n):
    return n.op("Identity", [n.inp(0)])


def _atan2(n):
    """ONNX has no Atan2: ``atan(a / b)`` moved into the quadrant by ``b``'s and ``a``'s
    signs, and ``sign(a) * pi / 2`` where ``b == 0`` (there the division is by 1 instead,
    so that no infinity or NaN appears, not even in the gradient of an imported copy).
    Signed zeros are not told apart (NumPy gives ``-pi`` for ``atan2(-0.0, -1)`` and ``pi``
    for ``atan2(0, -0.0)``; here ``pi`` and ``0``)."""
    a, b = n.inp(0), n.inp(1)
    zero, pi = n.const(0, n.dtype), n.const(math.pi, n.dtype)
    on_axis = n.op("Equal", [b, zero])
    safe_b = n.op("Where", [on_axis, n.const(1, n.dtype), b])
    angle = n.op("Atan", [n.op("Div", [a, safe_b])])
    turn = n.op("Where", [n.op("Less", [a, zero]), n.const(-math.pi, n.dtype), pi])
    angle = n.op("Where", [n.op("Less", [b, zero]), n.op("Add", [angle, turn]), angle])
    axis = n.op("Mul", [n.op("Sign", [a]), n.const(math.pi / 2, n.dtype)])
    return n.op("Where", [on_axis, axis, angle])


_TRANSLATE = {
    C.ConvNd: _conv,
    C.ConvTransposeNd: _conv_transpose,
    L.Linear: _linear,
    MM.MatMul: _matmul,
    PL.MaxPoolNd: _max_pool,
    PL.AvgPoolNd: _avg_pool,
    PL.AdaptiveAvgPoolNd: _adaptive_avg_pool,
    N.Normalize: _normalize,
    N.LocalResponseNorm: _lrn,
    VI.Interpolate: _interpolate,
    E.Add: _binary("Add"),
    E.Sub: _binary("Sub"),
    E.Mul: _binary("Mul"),
    E.Div: _binary("Div"),
    E.Pow: _binary("Pow"),
    E.Maximum: _binary("Max"),
    E.Minimum: _binary("Min"),
    E.Neg: _same("Neg"),
    E.Abs: _same("Abs"),
    E.Exp: _same("Exp"),
    E.Log: _same("Log"),
    E.Sqrt: _same("Sqrt"),
    E.Sin: _same("Sin"),
    E.Cos: _same("Cos"),
    E.Erf: _same("Erf"),
    E.Tanh: _same("Tanh"),
    E.Sigmoid: _same("Sigmoid"),
    E.Relu: _same("Relu"),
    E.Floor: _same("Floor"),
    E.Ceil: _same("Ceil"),
    E.Sign: _same("Sign"),
    E.Atan2: _atan2,
    E.Clamp: _clamp,
    E.Clone: _clone,
    E.Where: _where,
    E.Cast: _cast,
    A.Hardtanh: _hardtanh,
    A.LeakyRelu: _leaky_relu,
    A.Elu: _elu,
    A.Gelu: _gelu,
    A.Silu: _silu,
    A.Softplus: _softplus,
    A.Softsign: _same("Softsign"),
    A.Hardsigmoid: _same("HardSigmoid", alpha=1.0 / 6.0, beta=0.5),
    A.Hardswish: _hardswish,
    A.Prelu: _prelu,
    A.Softmax: _softmax("Softmax"),
    A.LogSoftmax: _softmax("LogSoftmax"),
    A.Glu: _glu,
    M.Reshape: _reshape,
    M.Permute: _permute,
    M.Expand: _expand,
    M.Getitem: _getitem,
    M.Cat: _cat,
    P.Pad: _pad,
    R.Sum: _reduce("ReduceSum"),
    R.Mean: _reduce("ReduceMean"),
    VI.PixelShuffle: lambda n: _shuffle(n, int(n.kwargs.get("upscale_factor", 1)), True),
    VI.PixelUnshuffle: lambda n: _shuffle(n, int(n.kwargs.get("downscale_factor", 1)), False),
    D.Dropout: _dropout,
}


def supported_ops():
    """Names of the svertka ops (``Function`` classes) that ``export`` translates.

    >>> "ConvNd" in supported_ops()
    True
    """
    return sorted(f.__name__ for f in _TRANSLATE)


# ----------------------------------------------------------------------------- tracing

def _module_tags(model):
    """Forward hooks that tag each node with the path of the innermost module that made it;
    returns ``(tags, handles)``, ``tags`` an ``id(ctx) -> path`` dict."""
    tags = {}
    stack = []
    handles = []

    def pre(module, inputs):
        stack.append({id(t._ctx) for t in _tensors(inputs) if t._ctx is not None})

    def post_for(path):
        def post(module, inputs, output):
            stop = stack.pop() if stack else set()
            todo = [t._ctx for t in _tensors(output) if t._ctx is not None]
            seen = set()
            while todo:
                c = todo.pop()
                if c is None or id(c) in stop or id(c) in seen:
                    continue
                seen.add(id(c))
                tags.setdefault(id(c), path)
                todo.extend(getattr(c, "parents", ()))
        return post

    for path, m in model.named_modules():
        if path:
            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(post_for(path)))
    return tags, handles


def _tensors(obj):
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def _order(outputs, bools=None):
    """The nodes reachable from the outputs, inputs before users (iterative: deep graphs);
    the nodes that made the operands of a comparison whose bool array an op reads
    (``bools``: see ``keep_calls``) count as that op's inputs."""
    bools = bools or {}
    order, state = [], {}
    for out in outputs:
        if out._ctx is None:
            continue
        stack = [(out._ctx, False)]
        while stack:
            c, done = stack.pop()
            if done:
                order.append(c)
                continue
            if id(c) in state:
                continue
            state[id(c)] = True
            stack.append((c, True))
            for p in list(c.parents) + _compared(c, bools):
                if p is not None and id(p) not in state:
                    stack.append((p, False))
    return order


def _compared(ctx, bools):
    """The nodes behind the comparisons whose bool arrays ``ctx`` reads as constants."""
    if not bools or not hasattr(ctx, "call"):
        return []
    found = []
    todo = [a._data if isinstance(a, Tensor) else a for a in ctx.call[0]]
    while todo:
        a = todo.pop()
        hit = bools.get(id(a))
        if hit is None or hit[0] is not a:
            continue
        for t in hit[2]:
            if isinstance(t, Tensor):
                if t._ctx is not None:
                    found.append(t._ctx)
                elif t._data.dtype == np.bool_:
                    todo.append(t._data)
    return found


def _check_args(model, args):
    if not isinstance(model, nn.Module):
        raise TypeError(f"{_FN}: model must be an nn.Module, got {type(model).__name__}")
    if isinstance(args, Tensor):
        args = (args,)
    if isinstance(args, np.ndarray):
        args = (Tensor._make(args),)
    if not isinstance(args, (tuple, list)) or not args:
        raise TypeError(f"{_FN}: args must be a Tensor or a non-empty tuple of Tensors, got "
                        f"{type(args).__name__}")
    if isinstance(args[-1], dict):      # torch's trailing dict of keyword arguments
        raise TypeError(f"{_FN}: keyword arguments to forward are not supported, got a dict "
                        f"as the last of args")
    for i, a in enumerate(args):
        if not isinstance(a, Tensor):
            raise TypeError(f"{_FN}: args[{i}] must be a Tensor, got {type(a).__name__}")
    return tuple(args)


def _check_target(f):
    """``f`` is a path (str or os.PathLike) or a writable binary file object."""
    if isinstance(f, io.TextIOBase):
        raise TypeError(f"{_FN}: f must be opened in binary mode ('wb'), got a text file "
                        f"({getattr(f, 'name', type(f).__name__)})")
    if isinstance(f, (bytes, bytearray, memoryview)) or not (
            isinstance(f, str) or hasattr(f, "__fspath__") or callable(getattr(f, "write", None))):
        raise TypeError(f"{_FN}: f must be a path (str or os.PathLike) or a writable binary file "
                        f"object, got {type(f).__name__}")


def _check_names(names, what, count):
    if names is None:
        return []
    if not isinstance(names, (list, tuple)) or not all(isinstance(s, str) and s for s in names):
        raise TypeError(f"{_FN}: {what} must be a list of non-empty strings, got {names!r}")
    if len(names) > count:
        raise ValueError(f"{_FN}: {what} has {len(names)} names for {count} "
                         f"{what.split('_')[0]}s, got {what}={list(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{_FN}: {what} must be distinct, got {what}={list(names)}")
    return list(names)


def _default_names(given, count, base):
    return given + [base if count == 1 else f"{base}_{i}" for i in range(len(given), count)]


def _check_dynamic_axes(dynamic_axes, shapes):
    """``{name: {axis: dim_name}}`` (a list of axes gets torch's generated names)."""
    if dynamic_axes is None:
        return {}
    if not isinstance(dynamic_axes, dict):
        raise TypeError(f"{_FN}: dynamic_axes must be a dict of input/output names to axes, got "
                        f"{type(dynamic_axes).__name__}")
    out = {}
    for name, axes in dynamic_axes.items():
        if name not in shapes:
            raise ValueError(f"{_FN}: dynamic_axes names {name!r}, which is neither an input nor "
                             f"an output name (inputs and outputs: {sorted(shapes)})")
        if isinstance(axes, (list, tuple)):
            axes = {a: f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
        if not isinstance(axes, dict):
            raise TypeError(f"{_FN}: dynamic_axes[{name!r}] must be a dict of axis to name or a "
                            f"list of axes, got {axes!r}")
        rank = len(shapes[name])
        fixed = {}
        for a, dim in axes.items():
            if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -rank <= a < rank:
                raise ValueError(f"{_FN}: dynamic_axes[{name!r}] names axis {a!r} of a "
                                 f"{rank}-D value (shape {tuple(shapes[name])})")
            fixed[int(a) % rank] = str(dim)
        out[name] = fixed
    return out


def _value_info(helper, name, array, dims, unknown=False):
    elem = helper.np_dtype_to_tensor_dtype(array.dtype)
    shape = [dims.get(i, None if unknown else s) for i, s in enumerate(array.shape)]
    return helper.make_tensor_value_info(name, elem, shape)


def export(model, args, f, input_names=None, output_names=None, opset_version=17,
           dynamic_axes=None):
    """Export ``model`` to an ONNX file by tracing its forward on ``args``.

    The model runs in eval mode (as ``torch.onnx.export`` does by default; its mode is
    restored afterwards) on copies of ``args`` that require a gradient, so that every op is
    recorded in svertka's graph; each recorded op is translated into ONNX nodes. Parameters and
    buffers become initializers under their ``state_dict`` names. Needs the ``onnx`` package
    (``pip install "svertka[onnx]"``).

    Args:
        model (nn.Module): the model; Python control flow in ``forward`` is frozen at the path
            the example takes.
        args (Tensor or tuple of Tensors): example inputs, one per input of ``forward``.
        f: a path (str or ``os.PathLike``; written atomically, as :func:`svertka.save`) or a
            writable binary file object (``io.BytesIO``, a file opened with ``'wb'``).
        input_names (list of str, optional): graph input names; default ``input`` (or
            ``input_0``, ``input_1``, ... for several inputs).
        output_names (list of str, optional): graph output names; default ``output`` (or
            ``output_0``, ...). A model may return a Tensor or a tuple/list of Tensors.
        opset_version (int): the ONNX opset, 13 to 21. Default 17.
        dynamic_axes (dict, optional): ``{name: {axis: dim_name}}`` or ``{name: [axes]}``: the
            axes of inputs and outputs whose size may vary, e.g.
            ``{"input": {0: "batch"}, "output": {0: "batch"}}``. Unlike torch, an output that
            is not named here while an input has a dynamic axis is declared with unknown
            dimensions rather than the traced ones.

    Raises:
        UnsupportedOperatorError (a ValueError): an op without an ONNX translation, naming
            the op and the module it sits in; also an output that does not depend on the
            inputs through svertka's ops (a value computed with NumPy in ``forward``), and
            a graph that changes when the forward is traced again on other inputs of the same
            shapes (each element's position permuted, floats scaled by ``[0.5, 1)``): a
            constant computed from the input outside svertka's graph, such as a mask made
            with NumPy (``svertka.tensor(x.numpy() > 0)``); write it with svertka ops
            (``svertka.where(x > 0, x, 0.5 * x)`` exports). This check runs the forward
            twice.
        TypeError: ``f`` is neither a path nor a binary file object (``bytes``, a text file).

    Warns:
        UserWarning: the forward raised on the perturbed inputs, so the check above could not
            run (a model that refuses inputs outside a set of values).

    Examples::

        >>> import io, onnx, svertka
        >>> from svertka.onnx import export
        >>> from svertka import nn
        >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 2))
        >>> buf = io.BytesIO()
        >>> export(model, svertka.randn(1, 1, 4, 4), buf,
        ...        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        >>> proto = onnx.load_from_string(buf.getvalue())
        >>> [node.op_type for node in proto.graph.node]
        ['Conv', 'Relu', 'Reshape', 'Gemm']
        >>> [i.name for i in proto.graph.initializer][:2]
        ['0.weight', '0.bias']
    """
    args = _check_args(model, args)
    if (isinstance(opset_version, bool) or not isinstance(opset_version, int)
            or not 13 <= opset_version <= 21):
        raise ValueError(f"{_FN}: opset_version must be an int from 13 to 21, got "
                         f"opset_version={opset_version!r}")
    _check_target(f)
    onnx = _onnx()
    in_names = _default_names(_check_names(input_names, "input_names", len(args)), len(args),
                              "input")
    rng = _random.get_rng()
    before = rng.bit_generator.state
    g, inputs, outputs, result = _trace(model, args, in_names, opset_version)
    if not outputs:
        raise TypeError(f"{_FN}: the model must return a Tensor or a tuple/list of Tensors, got "
                        f"{type(result).__name__}")
    out_names = _default_names(_check_names(output_names, "output_names", len(outputs)),
                               len(outputs), "output")
    for name in out_names:
        g.names.add(name)
    shapes = {n: t._data for n, t in zip(in_names + out_names, inputs + outputs)}
    dyn = _check_dynamic_axes(dynamic_axes, shapes)

    # every output must depend on an input through the graph
    input_ids = {id(t) for t in inputs}
    for name, t in zip(out_names, outputs):
        if id(t) not in input_ids and not _reaches_input(t._ctx, input_ids):
            raise UnsupportedOperatorError(
                f"{_FN}: output {name!r} does not depend on the inputs through svertka's ops, "
                f"so its value would be frozen into the file; the model ({type(model).__name__}) "
                f"computes part of forward outside svertka's graph (NumPy on .numpy() or "
                f".detach()), which ONNX export cannot record")

    # the same trace on other inputs of the same shapes (and the same random draws) must give
    # the same graph: a constant that changes was computed from the input outside the graph
    after = rng.bit_generator.state
    rng.bit_generator.state = before
    try:
        g2, _, outputs2, _ = _trace(model, _perturbed(args), in_names, opset_version)
    except UnsupportedOperatorError as exc:
        raise UnsupportedOperatorError(
            f"{_FN}: the traced graph changes with the input's values (Python control flow on "
            f"a value computed from the input?): on a perturbed copy of args, {exc}") from None
    except Exception as exc:    # the model refuses the perturbed input: the check cannot run
        warnings.warn(f"{_FN}: could not check that no constant of the exported graph depends "
                      f"on the input: forward raised {type(exc).__name__} ({exc}) on a "
                      f"perturbed copy of args (the same shapes, elements permuted and "
                      f"rescaled)", UserWarning, stacklevel=2)
        g2 = outputs2 = None
    finally:
        rng.bit_generator.state = after
    if g2 is not None:
        _check_same_graph(model, g, g2, len(outputs) == len(outputs2))

    # outputs: the last node's value takes the output's name
    helper = onnx.helper
    rename = {}
    for name, t in zip(out_names, outputs):
        value = g.inputs.get(id(t)) if t._ctx is None else g.values[id(t._ctx)]
        if value is None:
            value = g.leaf(t, t._data.dtype)
        if value in rename or value in g.initializers or value in in_names:
            g.nodes.append(helper.make_node("Identity", [value], [name],
                                            name=g.unique(f"/{name}/Identity")))
        else:
            rename[value] = name
    for node in g.nodes:
        node.output[:] = [rename.get(v, v) for v in node.output]
        node.input[:] = [rename.get(v, v) for v in node.input]

    any_dynamic = any(n in dyn for n in in_names)
    graph = helper.make_graph(
        g.nodes, type(model).__name__,
        [_value_info(helper, n, t._data, dyn.get(n, {})) for n, t in zip(in_names, inputs)],
        [_value_info(helper, n, t._data, dyn.get(n, {}), unknown=any_dynamic and n not in dyn)
         for n, t in zip(out_names, outputs)],
        initializer=[onnx.numpy_helper.from_array(a, name) for name, a in g.initializers.items()])
    proto = helper.make_model(graph, producer_name="svertka",
                              opset_imports=[helper.make_opsetid("", opset_version)])
    proto.ir_version = min(proto.ir_version, _IR_VERSION.get(opset_version, 10))
    data = proto.SerializeToString()
    onnx.checker.check_model(data)            # the bytes: the model is serialised once
    _write(f, lambda out: out.write(data))


def _trace(model, args, in_names, opset):
    """Run ``model`` once in eval mode on copies of ``args`` (float ones requiring a gradient),
    recording every op, and translate the recorded graph; returns ``(graph, inputs, outputs,
    result)``."""
    g = _Graph(model, opset)
    inputs = [Tensor._make(np.array(a._data, copy=True)) for a in args]
    for t in inputs:
        if t._data.dtype.kind == "f":
            t.requires_grad_(True)
    for t, name in zip(inputs, in_names):
        g.inputs[id(t)] = name
        g.names.add(name)

    was_training = model.training
    tags, handles = _module_tags(model)
    try:
        model.eval()
        with grad_mode.enable_grad(), _function.keep_calls() as calls:
            result = model(*inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    outputs = _tensors(result)
    g.bools = calls.bools

    # translate the nodes, inputs before users
    for ctx in _order(outputs, g.bools):
        if not hasattr(ctx, "call"):
            raise UnsupportedOperatorError(f"{_FN}: the node {ctx.name()} was recorded outside "
                                           f"the export trace")
        path = tags.get(id(ctx), "")
        node = _Node(g, ctx, path)
        g.current = (ctx.fn.__name__, path)
        translate = _TRANSLATE.get(ctx.fn)
        if translate is None:
            node.unsupported("has no ONNX counterpart")
        g.values[id(ctx)] = translate(node)
    g.current = ("", "")
    return g, inputs, outputs, result


def _perturbed(args):
    """Other example inputs of the same shapes and dtypes: each one's elements in a seeded
    random order (so that masks such as ``x > 0`` move), float ones also scaled by factors
    in ``[0.5, 1)`` (so that values such as ``x.max()`` change), which keeps each input's sign
    and range (an image in ``[0, 1]`` stays there, indices stay valid)."""
    rng = np.random.default_rng(20240615)
    out = []
    for a in args:
        d = a._data
        p = d.reshape(-1)[rng.permutation(d.size)].reshape(d.shape)            # a copy
        if d.dtype.kind in "fc":
            p = (p * rng.uniform(0.5, 1.0, d.shape)).astype(d.dtype)
        out.append(Tensor._make(p))
    return out


def _same_value(a, b):
    return (a.dtype == b.dtype and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _check_same_graph(model, g, g2, same_outputs):
    """Raise where the graph traced on the perturbed inputs (``g2``) differs from the
    example's (``g``): a constant other than a parameter or buffer, or a node (its op, inputs
    or attributes), that changed depends on the input's values."""
    def where(node):
        fn, path = g.origin.get(node.name, ("", ""))
        module = f" in module '{path}'" if path else ""
        return f"node {node.name!r} (svertka op {fn}{module})" if fn else f"node {node.name!r}"

    how = ("was computed from the input outside svertka's graph (NumPy code on .numpy(), "
           ".item() or .tolist(), a new tensor made from the input's values, a bool mask "
           "indexed or reshaped before use, or Python control flow on a value), so the ONNX "
           "model would replay the example's value for every input; compute it with svertka "
           "ops on the tensors themselves (comparisons such as x > 0 are recorded where "
           "where(), masked_fill() or a cast (x > 0).float() reads them directly)")
    for i, node in enumerate(g.nodes):
        other = g2.nodes[i] if i < len(g2.nodes) else None
        for name in node.input:
            if name not in g.initializers or name in g.state_names:
                continue
            a, b = g.initializers[name], g2.initializers.get(name)
            if b is None or not _same_value(a, b):
                raise UnsupportedOperatorError(
                    f"{_FN}: the constant {name!r} (shape {a.shape}, {a.dtype}) read by "
                    f"{where(node)} changed when forward was traced again on other inputs of "
                    f"the same shapes: it {how} (model {type(model).__name__})")
        if other is None or node != other:
            raise UnsupportedOperatorError(
                f"{_FN}: {where(node)} changed when forward was traced again on other inputs "
                f"of the same shapes: the graph {how} (model {type(model).__name__})")
    if len(g2.nodes) != len(g.nodes) or not same_outputs:
        raise UnsupportedOperatorError(
            f"{_FN}: the traced graph has {len(g.nodes)} nodes on the example inputs and "
            f"{len(g2.nodes)} on other inputs of the same shapes: its structure {how} "
            f"(model {type(model).__name__})")


# the IR version each opset shipped with, so that runtimes that know the opset read the file
_IR_VERSION = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}


def _reaches_input(ctx, input_ids):
    todo, seen = [ctx], set()
    while todo:
        c = todo.pop()
        if c is None or id(c) in seen:
            continue
        seen.add(id(c))
        args = c.call[0] if hasattr(c, "call") else ()
        if any(id(a) in input_ids for a in args):
            return True
        todo.extend(c.parents)
    return False

