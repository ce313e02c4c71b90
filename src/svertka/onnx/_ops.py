"""The ONNX operators svertka imports: one handler per ``op_type``.

A handler ``handler(b, node, attrs)`` reads the node's attributes (and, through the builder
``b`` of ``_import.py``, which inputs are initializers), registers modules it owns, and returns
``run(*inputs)``, the node's computation. Values are svertka Tensors (anything that depends on
a float graph input, so autograd follows it) or NumPy arrays (shapes, indices, integer data,
constants); a ``run`` whose inputs are all NumPy arrays returns NumPy arrays, which is how the
shape subgraphs exporters emit are folded.
"""

from __future__ import annotations

import math

import numpy as np

import svertka.nn.functional as F
from svertka import _dtype, nn
from svertka._creation import as_tensor
from svertka.kernels import pool as KP
from svertka.nn.parameter import Parameter
from svertka.ops.conv import ConvNd, ConvTransposeNd
from svertka.ops.pool import AvgPoolNd, MaxPoolNd
from svertka.tensor import Tensor, cat

#: input positions that must be known when the node runs (shapes, axes, scales, pads): a float
#: initializer read there stays a constant rather than becoming a parameter
STATIC = {
    "Reshape": {1}, "Squeeze": {1}, "Unsqueeze": {1}, "Pad": {1, 2, 3}, "Clip": {1, 2},
    "Resize": {1, 2, 3}, "Upsample": {1}, "Slice": {1, 2, 3, 4}, "ReduceMean": {1},
    "Dropout": {1, 2}, "ConstantOfShape": {0}, "Gather": {1},
}
#: never folded at load time
VOLATILE = {"Dropout"}


class Unsupported(Exception):
    """A node svertka cannot run (an attribute value or mode it does not implement)."""


# ------------------------------------------------------------------------------- values

def as_value(x):
    """A graph input as the forward sees it: float data as a Tensor, the rest as NumPy."""
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    return as_tensor(arr) if arr.dtype.kind == "f" else arr


def to_output(v):
    if isinstance(v, Tensor):
        return v
    try:
        return as_tensor(np.ascontiguousarray(v))
    except (TypeError, ValueError):     # a dtype svertka has no tensor for (uint32, ...)
        return v


def _is_t(v):
    return isinstance(v, Tensor)


def _t(v):
    """``v`` as a Tensor (NumPy arrays and scalars wrapped, keeping their dtype)."""
    return v if isinstance(v, Tensor) else as_tensor(np.ascontiguousarray(v))


def _np(v):
    """``v`` as an ndarray (a Tensor's data, detached: used for shapes and constants)."""
    return v.detach().numpy() if isinstance(v, Tensor) else np.asarray(v)


def _ints(v):
    return [int(i) for i in _np(v).reshape(-1)]


def _axis(axis, ndim):
    return axis + ndim if axis < 0 else axis


def _pairs(pads, n):
    """ONNX ``[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`` as ``((lo, hi), ...)``."""
    pads = list(pads) if pads is not None else [0] * (2 * n)
    return tuple((int(pads[i]), int(pads[i + n])) for i in range(n))


def _same_pairs(spatial, kernel, stride, dilation, auto_pad):
    """SAME_UPPER / SAME_LOWER padding: the output is ``ceil(in / stride)`` long; the odd
    pixel of padding goes at the end (UPPER) or the beginning (LOWER)."""
    pairs = []
    for i, k, s, d in zip(spatial, kernel, stride, dilation):
        total = max((-(-i // s) - 1) * s + (k - 1) * d + 1 - i, 0)
        small = total // 2
        pairs.append((small, total - small) if auto_pad == "SAME_UPPER" else
                     (total - small, small))
    return tuple(pairs)


def _window_pairs(a, x_shape, kernel, stride, dilation):
    auto = a.get("auto_pad", "NOTSET")
    n = len(kernel)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        return _same_pairs(x_shape[2:], kernel, stride, dilation, auto)
    if auto == "VALID":
        return ((0, 0),) * n
    return _pairs(a.get("pads"), n)


def _pad_flat(pairs):
    """``((lo, hi), ...)`` of the spatial axes as ``F.pad``'s flat tuple (last axis first)."""
    return tuple(v for lo, hi in reversed(pairs) for v in (lo, hi))


def _zero_pad(x, pairs, value=0.0):
    if all(lo == 0 and hi == 0 for lo, hi in pairs):
        return x
    return F.pad(x, _pad_flat(pairs), mode="constant", value=value)


def _param(arr):
    return Parameter(as_tensor(np.array(arr)))


def _owned(b, names):
    """``{attr: onnx name}`` for the inputs a module takes over (``None`` entries dropped)."""
    return {attr: b.input(i) for attr, i in names.items() if b.input(i) is not None}


# ------------------------------------------------------------------------------- conv

def _conv(b, node, a):
    w = b.owned_init(1)
    has_bias = b.input(2) is not None
    bias = b.owned_init(2) if has_bias else None
    group = int(a.get("group", 1))
    if w is not None and (bias is not None or not has_bias) and 1 <= w.ndim - 2 <= 3:
        n = w.ndim - 2
        kernel = tuple(w.shape[2:])
        stride = tuple(a.get("strides", [1] * n))
        dilation = tuple(a.get("dilations", [1] * n))
        auto = a.get("auto_pad", "NOTSET")
        static = None if auto.startswith("SAME") else _window_pairs(a, None, kernel, stride,
                                                                     dilation)
        common = tuple(min(lo, hi) for lo, hi in static) if static else (0,) * n
        conv = getattr(nn, f"Conv{n}d")(w.shape[1] * group, w.shape[0], kernel, stride,
                                        padding=common, dilation=dilation, groups=group,
                                        bias=has_bias)
        conv.weight = _param(w)
        if has_bias:
            conv.bias = _param(bias)
        b.add_module(conv, _owned(b, {"weight": 1, "bias": 2}))

        def run(x, *_):
            pairs = static or _window_pairs(a, x.shape, kernel, stride, dilation)
            extra = tuple((lo - c, hi - c) for (lo, hi), c in zip(pairs, common))
            return conv(_zero_pad(_t(x), extra))
        return run

    def run(x, w, bias=None):
        w = _t(w)
        n = w.ndim - 2
        kernel = tuple(w.shape[2:])
        stride = tuple(a.get("strides", [1] * n))
        dilation = tuple(a.get("dilations", [1] * n))
        pairs = _window_pairs(a, x.shape, kernel, stride, dilation)
        return ConvNd.apply(_t(x), w, None if bias is None else _t(bias), stride=stride,
                            pads=pairs, dilation=dilation, groups=group)
    return run


def _conv_transpose_pairs(a, x_shape, w_shape, group):
    n = len(w_shape) - 2
    kernel = tuple(w_shape[2:])
    stride = tuple(a.get("strides", [1] * n))
    dilation = tuple(a.get("dilations", [1] * n))
    out_pad = tuple(a.get("output_padding", [0] * n))
    auto = a.get("auto_pad", "NOTSET")
    spatial = tuple(x_shape[2:])
    shape = a.get("output_shape")
    if shape is None and auto in ("SAME_UPPER", "SAME_LOWER"):
        shape = [i * s for i, s in zip(spatial, stride)]
    if shape is not None:
        shape = list(shape)[-n:]
        pairs = []
        for i, k, s, d, op, o in zip(spatial, kernel, stride, dilation, out_pad, shape):
            total = s * (i - 1) + op + (k - 1) * d + 1 - o
            small = total // 2
            pairs.append((small, total - small) if auto == "SAME_UPPER" else
                         (total - small, small))
        pairs = tuple(pairs)
    elif auto == "VALID":
        pairs = ((0, 0),) * n
    else:
        pairs = _pairs(a.get("pads"), n)
    out = tuple((i - 1) * s + op + (k - 1) * d + 1 - lo - hi
                for i, s, op, k, d, (lo, hi) in zip(spatial, stride, out_pad, kernel, dilation,
                                                   pairs))
    return kernel, stride, dilation, pairs, out


def _conv_transpose_apply(a, group, x, w, bias):
    kernel, stride, dilation, pairs, out = _conv_transpose_pairs(a, x.shape, w.shape, group)
    # negative padding (an output_shape larger than the natural size) grows the output:
    # compute it with the non-negative part, then add zeros, then the bias
    pos = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pairs)
    natural = tuple(o + (lo - plo) + (hi - phi) for o, (lo, hi), (plo, phi)
                    in zip(out, pairs, pos))
    grow = tuple((plo - lo, phi - hi) for (lo, hi), (plo, phi) in zip(pairs, pos))
    if any(o < 1 for o in natural):
        raise ValueError(f"ConvTranspose: output size {out} is not positive (input "
                         f"{tuple(x.shape)}, weight {tuple(w.shape)})")
    grown = any(g != (0, 0) for g in grow)
    y = ConvTransposeNd.apply(_t(x), _t(w), None if (bias is None or grown) else _t(bias),
                              stride=stride, pads=pos, dilation=dilation, groups=group,
                              out=natural)
    if grown:
        y = _zero_pad(y, grow)
        if bias is not None:
            y = y + _t(bias).reshape(1, -1, *([1] * (y.ndim - 2)))
    return y


def _conv_transpose(b, node, a):
    w = b.owned_init(1)
    has_bias = b.input(2) is not None
    bias = b.owned_init(2) if has_bias else None
    group = int(a.get("group", 1))
    if w is None or (has_bias and bias is None) or not 1 <= w.ndim - 2 <= 3:
        return lambda x, w, bias=None: _conv_transpose_apply(a, group, x, w, bias)
    n = w.ndim - 2
    kernel = tuple(w.shape[2:])
    stride = tuple(a.get("strides", [1] * n))
    dilation = tuple(a.get("dilations", [1] * n))
    out_pad = tuple(a.get("output_padding", [0] * n))
    pairs = _pairs(a.get("pads"), n)
    simple = (a.get("auto_pad", "NOTSET") == "NOTSET" and "output_shape" not in a
              and all(lo == hi for lo, hi in pairs)
              and all(op < s or op < d for op, s, d in zip(out_pad, stride, dilation)))
    conv = getattr(nn, f"ConvTranspose{n}d")(
        w.shape[0], w.shape[1] * group, kernel, stride,
        padding=tuple(lo for lo, _ in pairs) if simple else 0,
        output_padding=out_pad if simple else 0, groups=group, bias=has_bias,
        dilation=dilation)
    conv.weight = _param(w)
    if has_bias:
        conv.bias = _param(bias)
    b.add_module(conv, _owned(b, {"weight": 1, "bias": 2}))
    if simple:
        return lambda x, *_: conv(_t(x))
    return lambda x, *_: _conv_transpose_apply(a, group, x, conv.weight, conv.bias)


# ------------------------------------------------------------------------------- matmul

def _gemm(b, node, a):
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    ta, tb = int(a.get("transA", 0)), int(a.get("transB", 0))
    w = b.owned_init(1)
    has_c = b.input(2) is not None
    c = b.owned_init(2) if has_c else None
    if (w is not None and w.ndim == 2 and tb == 1 and ta == 0 and alpha == 1.0
            and beta == 1.0 and (not has_c or (c is not None and c.shape == (w.shape[0],)))):
        lin = nn.Linear(w.shape[1], w.shape[0], bias=has_c)
        lin.weight = _param(w)
        if has_c:
            lin.bias = _param(c)
        b.add_module(lin, _owned(b, {"weight": 1, "bias": 2}))
        return lambda x, *_: lin(_t(x))

    def run(x, w, c=None):
        if not any(_is_t(v) for v in (x, w, c)):
            x, w = _np(x), _np(w)
            y = (x.T if ta else x) @ (w.T if tb else w)
            y = y * np.asarray(alpha, y.dtype) if alpha != 1.0 else y
            return y if c is None else y + np.asarray(beta, y.dtype) * _np(c)
        x, w = _t(x), _t(w)
        y = (x.t() if ta else x).matmul(w.t() if tb else w)
        if alpha != 1.0:
            y = y * alpha
        if c is not None:
            c = _t(c)
            y = y + (c * beta if beta != 1.0 else c)
        return y
    return run


def _matmul(b, node, a):
    def run(x, y):
        if not _is_t(x) and not _is_t(y):
            return np.matmul(x, y)
        return _t(x).matmul(_t(y))
    return run


# ------------------------------------------------------------------------------- norms

def _batch_norm(b, node, a):
    eps = float(a.get("epsilon", 1e-5))
    momentum = float(a.get("momentum", 0.9))
    if int(a.get("training_mode", 0)):
        raise Unsupported("training_mode=1 is not implemented (export the model in eval "
                          "mode)")
    if int(a.get("spatial", 1)) != 1:
        raise Unsupported("spatial=0 is not implemented")
    if any(o for o in node.output[1:]):
        raise Unsupported("the running-statistics outputs are not implemented")
    arrays = [b.owned_init(i) for i in (1, 2, 3, 4)]
    rank = b.rank(0)
    if all(v is not None for v in arrays) and rank in (2, 3, 4, 5):
        scale, bias, mean, var = arrays
        cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}
        bn = cls[rank](scale.shape[0], eps=eps, momentum=1.0 - momentum)
        bn.weight, bn.bias = _param(scale), _param(bias)
        bn.register_buffer("running_mean", as_tensor(np.array(mean)))
        bn.register_buffer("running_var", as_tensor(np.array(var)))
        b.add_module(bn, _owned(b, {"weight": 1, "bias": 2, "running_mean": 3,
                                    "running_var": 4}))
        return lambda x, *_: bn(_t(x))

    def run(x, scale, bias, mean, var):
        return F.batch_norm(_t(x), _t(mean), _t(var), _t(scale), _t(bias), training=False,
                            eps=eps)
    return run


def _lrn(b, node, a):
    size = int(a["size"])
    alpha, beta = float(a.get("alpha", 1e-4)), float(a.get("beta", 0.75))
    k = float(a.get("bias", 1.0))
    lrn = b.add_module(nn.LocalResponseNorm(size, alpha, beta, k), {})
    if size % 2:
        return lambda x: lrn(_t(x))
    # ONNX sums over [c - (size-1)//2 - ... ]: one more channel after c than before it, where
    # torch takes one more before; flipping the channels swaps the two
    return lambda x: lrn(_t(x).flip(1)).flip(1)


# ------------------------------------------------------------------------------- pooling

def _pool(kind):
    def handler(b, node, a):
        if int(a.get("storage_order", 0)) == 1:
            raise Unsupported("storage_order=1 is not implemented")
        if len(node.output) > 1 and node.output[1]:
            raise Unsupported("the Indices output is not implemented")
        kernel = tuple(int(k) for k in a["kernel_shape"])
        n = len(kernel)
        stride = tuple(a.get("strides", [1] * n))
        dilation = tuple(a.get("dilations", [1] * n))
        ceil = bool(a.get("ceil_mode", 0))
        include = bool(a.get("count_include_pad", 0))
        auto = a.get("auto_pad", "NOTSET")
        module = None
        if auto in ("NOTSET", "VALID") and n <= 3:
            pairs = _window_pairs(a, None, kernel, stride, dilation)
            pad = tuple(lo for lo, _ in pairs)
            if (all(lo == hi for lo, hi in pairs)
                    and all(p <= k // 2 for p, k in zip(pad, kernel))):
                if kind == "max":
                    module = getattr(nn, f"MaxPool{n}d")(kernel, stride, pad, dilation=dilation,
                                                         ceil_mode=ceil)
                elif all(d == 1 for d in dilation):
                    module = getattr(nn, f"AvgPool{n}d")(kernel, stride, pad, ceil_mode=ceil,
                                                         count_include_pad=include)
        def run(x):
            pairs = _window_pairs(a, x.shape, kernel, stride, dilation)
            if kind == "max" and not _is_t(x):
                # integer data: the kernel on a float64 copy (exact below 2**53), whose
                # padding can be -inf
                x = np.asarray(x)
                y = KP.max_pool_values(x.astype(np.float64), kernel, stride, pairs, dilation,
                                       ceil)
                return y.astype(x.dtype)
            x = _t(x)
            if kind == "max":
                return MaxPoolNd.apply(x, kernel=kernel, stride=stride, pads=pairs,
                                       dilation=dilation, ceil_mode=ceil)
            return AvgPoolNd.apply(x, kernel=kernel, stride=stride, pads=pairs,
                                   dilation=dilation, ceil_mode=ceil, count_include_pad=include,
                                   divisor_override=None)
        if module is not None:
            b.add_module(module, {})
            return lambda x: module(_t(x)) if _is_t(x) or kind == "avg" else run(x)
        return run
    return handler


def _global_pool(kind):
    def handler(b, node, a):
        rank = b.rank(0)
        if kind == "avg" and rank in (3, 4, 5):
            pool = b.add_module(getattr(nn, f"AdaptiveAvgPool{rank - 2}d")(1), {})
            return lambda x: pool(_t(x))

        def run(x):
            x = _t(x)
            dims = tuple(range(2, x.ndim))
            return x.mean(dim=dims, keepdim=True) if kind == "avg" else x.amax(dims, True)
        return run
    return handler


# ------------------------------------------------------------------------------- activations

def _unary(f):
    return lambda b, node, a: (lambda x: f(_t(x)))


def _leaky_relu(b, node, a):
    slope = float(a.get("alpha", 0.01))
    return lambda x: F.leaky_relu(_t(x), slope)


def _elu(b, node, a):
    alpha = float(a.get("alpha", 1.0))
    return lambda x: F.elu(_t(x), alpha)


_SELU_ALPHA, _SELU_GAMMA = 1.6732632423543772, 1.0507009873554805


def _selu(b, node, a):
    alpha = float(a.get("alpha", _SELU_ALPHA))
    gamma = float(a.get("gamma", _SELU_GAMMA))
    if abs(alpha - _SELU_ALPHA) < 1e-6 and abs(gamma - _SELU_GAMMA) < 1e-6:
        return lambda x: F.selu(_t(x))
    return lambda x: gamma * (F.relu(_t(x)) + alpha * F.elu(-F.relu(-_t(x))))


def _prelu(b, node, a):
    # the slope broadcasts against x (ONNX's unidirectional broadcasting), so F.prelu's
    # per-channel weight does not cover it: relu(x) - slope * relu(-x) does, differentiably
    return lambda x, slope: F.relu(_t(x)) - _t(slope) * F.relu(-_t(x))


def _softmax(f):
    def handler(b, node, a):
        legacy = b.opset < 13
        axis = int(a.get("axis", 1 if legacy else -1))

        def run(x):
            x = _t(x)
            if not legacy:
                return f(x, dim=axis)
            # before opset 13 the input is coerced to 2-D at axis and normalised per row
            ax = _axis(axis, x.ndim)
            shape = tuple(x.shape)
            rows = math.prod(shape[:ax])
            return f(x.reshape(rows, -1), dim=1).reshape(shape)
        return run
    return handler


def _clip(b, node, a):
    def bound(v):
        return None if v is None else _np(v).reshape(()).item()

    def run(x, lo=None, hi=None):
        if b_opset < 11:
            lo, hi = a.get("min"), a.get("max")
        lo, hi = bound(lo), bound(hi)
        if not _is_t(x):
            return np.clip(x, lo, hi).astype(x.dtype)
        if lo is None and hi is None:
            return x
        return x.clamp(lo, hi)
    b_opset = b.opset
    return run


def _dropout(b, node, a):
    if b.opset < 12:
        p = float(a.get("ratio", 0.5))
    else:
        ratio = b.const(1)
        p = 0.5 if ratio is None else float(ratio)
        mode = b.const(2)
        if b.input(2) is not None and (mode is None or bool(mode)):
            raise Unsupported("training_mode=True in the graph is not implemented (use "
                              "module.train())")
    drop = b.add_module(nn.Dropout(p), {})
    has_mask = len(node.output) > 1 and bool(node.output[1])
    name = b.node_name

    def run(x, ratio=None, *_):
        if ratio is not None:       # a ratio fed at run time
            drop.p = float(_np(ratio))
        y = drop(_t(x))
        if has_mask:
            if drop.training:
                raise ValueError("OnnxModule: the Dropout mask output is not available in "
                                 f"training mode (node {name!r})")
            return y, np.ones(tuple(x.shape), dtype=bool)
        return y
    return run


# ------------------------------------------------------------------------------- arithmetic

def _int_div(x, y):
    # integer Div truncates toward zero (C's rule), not NumPy's floor
    q = np.abs(x) // np.abs(y)
    return (np.sign(x) * np.sign(y) * q).astype(np.result_type(x, y))


def _binary(np_f, t_f):
    def handler(b, node, a):
        def run(x, y):
            if not _is_t(x) and not _is_t(y):
                x, y = np.asarray(x), np.asarray(y)
                if np_f is np.divide and x.dtype.kind in "iu":
                    return _int_div(x, y)
                return np_f(x, y).astype(np.result_type(x, y))
            return t_f(_t(x), _t(y))
        return run
    return handler


# ------------------------------------------------------------------------------- movement

def _concat(b, node, a):
    axis = int(a["axis"])

    def run(*xs):
        xs = [x for x in xs if x is not None]
        if not any(_is_t(x) for x in xs):
            return np.concatenate([np.asarray(x) for x in xs], axis=axis)
        return cat([_t(x) for x in xs], dim=axis)
    return run


def _reshape_to(x, shape):
    return np.reshape(x, shape) if not _is_t(x) else x.reshape(*shape)


def _flatten(b, node, a):
    axis = int(a.get("axis", 1))

    def run(x):
        ax = _axis(axis, x.ndim)
        shape = tuple(x.shape)
        return _reshape_to(x, (math.prod(shape[:ax]), math.prod(shape[ax:])))
    return run


def _reshape(b, node, a):
    allowzero = int(a.get("allowzero", 0))

    def run(x, shape=None):
        target = _ints(shape) if b_opset >= 5 else [int(s) for s in a["shape"]]
        if not allowzero:
            target = [x.shape[i] if s == 0 else s for i, s in enumerate(target)]
        return _reshape_to(x, tuple(target))
    b_opset = b.opset
    return run


def _transpose(b, node, a):
    perm = a.get("perm")

    def run(x):
        p = tuple(perm) if perm is not None else tuple(reversed(range(x.ndim)))
        return np.transpose(x, p) if not _is_t(x) else x.permute(*p)
    return run


def _axes_of(b, a, axes_input):
    """Axes given as an attribute (older opsets) or as an input (newer ones)."""
    if "axes" in a:
        return [int(v) for v in a["axes"]]
    return None if axes_input is None else _ints(axes_input)


def _squeeze(b, node, a):
    def run(x, axes=None):
        ax = _axes_of(b, a, axes)
        if ax is None:
            ax = [i for i, s in enumerate(x.shape) if s == 1]
        ax = sorted(_axis(i, x.ndim) for i in ax)
        shape = tuple(s for i, s in enumerate(x.shape) if i not in ax)
        return _reshape_to(x, shape)
    return run


def _unsqueeze(b, node, a):
    def run(x, axes=None):
        ax = _axes_of(b, a, axes)
        out_rank = x.ndim + len(ax)
        ax = {_axis(i, out_rank) for i in ax}
        rest = iter(x.shape)
        shape = tuple(1 if i in ax else next(rest) for i in range(out_rank))
        return _reshape_to(x, shape)
    return run


def _gather(b, node, a):
    axis = int(a.get("axis", 0))

    def run(x, idx):
        idx = np.asarray(_np(idx)).astype(np.int64)
        ax = _axis(axis, x.ndim)
        idx = np.where(idx < 0, idx + x.shape[ax], idx)
        if not _is_t(x):
            return np.take(x, idx, axis=ax)
        flat = x.index_select(ax, as_tensor(idx.reshape(-1)))
        shape = tuple(x.shape[:ax]) + idx.shape + tuple(x.shape[ax + 1:])
        return flat.reshape(*shape)
    return run


def _slice(b, node, a):
    def run(x, starts=None, ends=None, axes=None, steps=None):
        if b_opset < 10:
            starts, ends, axes = a["starts"], a["ends"], a.get("axes")
        starts, ends = _ints(starts), _ints(ends)
        axes = list(range(len(starts))) if axes is None else _ints(axes)
        steps = [1] * len(starts) if steps is None else _ints(steps)
        index = [slice(None)] * x.ndim
        picks = []
        for s, e, ax, st in zip(starts, ends, axes, steps):
            ax = _axis(ax, x.ndim)
            if st > 0:
                index[ax] = slice(s, e, st)
            else:   # negative steps: pick the indices (Python's slice rules are ONNX's)
                picks.append((ax, np.arange(x.shape[ax])[s:e:st]))
        y = x[tuple(index)]
        for ax, idx in picks:
            y = np.take(y, idx, axis=ax) if not _is_t(y) else y.index_select(ax, as_tensor(idx))
        return y
    b_opset = b.opset
    return run


def _pad(b, node, a):
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate",
             "wrap": "circular"}
    mode = a.get("mode", "constant")
    if mode not in modes:
        raise Unsupported(f"mode={mode!r} is not implemented")

    def run(x, pads=None, value=None, axes=None):
        if b_opset < 11:
            pads, value = a["pads"], a.get("value", 0.0)
        pads = _ints(pads)
        v = 0.0 if value is None else _np(value).reshape(-1)
        v = float(v[0]) if isinstance(v, np.ndarray) and v.size else 0.0
        ax = list(range(x.ndim)) if axes is None else [_axis(i, x.ndim) for i in _ints(axes)]
        k = len(ax)
        full = [(0, 0)] * x.ndim
        for j, i in enumerate(ax):
            full[i] = (pads[j], pads[j + k])
        # negative pads crop
        crop = tuple(slice(max(-lo, 0), x.shape[i] - max(-hi, 0)) for i, (lo, hi)
                     in enumerate(full))
        x = x[crop]
        full = [(max(lo, 0), max(hi, 0)) for lo, hi in full]
        if all(p == (0, 0) for p in full):
            return x
        if not _is_t(x):
            np_mode = {"constant": "constant", "reflect": "reflect", "edge": "edge",
                       "wrap": "wrap"}[mode]
            kw = {"constant_values": v} if mode == "constant" else {}
            return np.pad(x, full, mode=np_mode, **kw)
        first = next(i for i, p in enumerate(full) if p != (0, 0))
        return F.pad(x, _pad_flat(full[first:]), mode=modes[mode],
                     value=v if mode == "constant" else None)
    b_opset = b.opset
    return run


# ------------------------------------------------------------------------------- resize

def _source_coords(o, in_size, out_size, scale, ctm):
    """Input coordinates of output pixels ``o`` (float64) per ``coordinate_transformation_mode``."""
    if ctm == "half_pixel":
        return (o + 0.5) / scale - 0.5
    if ctm == "pytorch_half_pixel":
        return (o + 0.5) / scale - 0.5 if out_size > 1 else np.zeros_like(o)
    if ctm == "align_corners":
        # ONNX divides by the unrounded output length in * scale
        length = in_size * scale
        return o * (in_size - 1) / (length - 1) if length > 1 else np.zeros_like(o)
    if ctm == "asymmetric":
        return o / scale
    if ctm == "half_pixel_symmetric":
        adjustment = out_size / (scale * in_size)
        center = in_size / 2
        return center * (1 - adjustment) + (o + 0.5) / scale - 0.5
    raise Unsupported(f"coordinate_transformation_mode={ctm!r} is not implemented")


def _nearest_index(xs, nearest_mode, in_size):
    if nearest_mode == "round_prefer_floor":
        idx = np.ceil(xs - 0.5)
    elif nearest_mode == "round_prefer_ceil":
        idx = np.floor(xs + 0.5)
    elif nearest_mode == "floor":
        idx = np.floor(xs)
    elif nearest_mode == "ceil":
        idx = np.ceil(xs)
    else:
        raise Unsupported(f"nearest_mode={nearest_mode!r} is not implemented")
    return np.clip(idx, 0, in_size - 1).astype(np.int64)


def _resample_axis(x, ax, out_size, scale, mode, ctm, nearest_mode):
    """Resize one axis of ``x``: nearest picks input rows, linear blends two of them, so the
    whole resize is separable and differentiable with ``index_select``."""
    in_size = x.shape[ax]
    xs = _source_coords(np.arange(out_size, dtype=np.float64), in_size, out_size, scale, ctm)
    if mode == "nearest":
        return x.index_select(ax, as_tensor(_nearest_index(xs, nearest_mode, in_size)))
    xs = np.clip(xs, 0, in_size - 1)
    i0 = np.floor(xs).astype(np.int64)
    i1 = np.minimum(i0 + 1, in_size - 1)
    shape = [1] * x.ndim
    shape[ax] = out_size
    w1 = as_tensor((xs - i0).astype(_dtype.to_np(x.dtype)).reshape(shape))
    lo = x.index_select(ax, as_tensor(i0))
    hi = x.index_select(ax, as_tensor(i1))
    return lo + (hi - lo) * w1


def _resize_apply(x, scales, sizes, mode, ctm, nearest_mode, axes):
    x = _t(x)
    axes = list(range(x.ndim)) if axes is None else [_axis(i, x.ndim) for i in axes]
    full_scale = [1.0] * x.ndim
    full_size = list(x.shape)
    if sizes is not None and len(sizes):
        for ax, s in zip(axes, sizes):
            full_size[ax] = int(s)
            full_scale[ax] = int(s) / x.shape[ax]
    else:
        for ax, s in zip(axes, scales):
            full_scale[ax] = float(s)
            full_size[ax] = int(math.floor(x.shape[ax] * float(s)))
    for ax in range(x.ndim):
        if full_size[ax] != x.shape[ax] or full_scale[ax] != 1.0:
            x = _resample_axis(x, ax, full_size[ax], full_scale[ax], mode, ctm, nearest_mode)
    return x


def _resize_mode(mode):
    mode = {"bilinear": "linear", "trilinear": "linear"}.get(mode, mode)
    if mode not in ("nearest", "linear"):
        raise Unsupported(f"mode={mode!r} is not implemented (nearest and linear are)")
    return mode


_CTMS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
         "half_pixel_symmetric")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _resize(b, node, a):
    mode = _resize_mode(a.get("mode", "nearest"))
    ctm = a.get("coordinate_transformation_mode", "half_pixel")
    if b.opset < 11:
        ctm = "asymmetric"
    nearest_mode = a.get("nearest_mode", "round_prefer_floor")
    if ctm not in _CTMS:
        raise Unsupported(f"coordinate_transformation_mode={ctm!r} is not implemented")
    if mode == "nearest" and nearest_mode not in _NEAREST_MODES:
        raise Unsupported(f"nearest_mode={nearest_mode!r} is not implemented")
    if int(a.get("antialias", 0)):
        raise Unsupported("antialias=1 is not implemented")
    if a.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise Unsupported(f"keep_aspect_ratio_policy={a['keep_aspect_ratio_policy']!r} is not "
                          "implemented")
    axes = a.get("axes")
    legacy = b.opset < 11
    if legacy and mode == "nearest":
        nearest_mode = "floor"

    def run(x, roi=None, scales=None, sizes=None):
        if legacy:
            scales = roi
        scales = None if scales is None else _np(scales).reshape(-1).tolist()
        sizes = None if sizes is None else _ints(sizes)
        return _resize_apply(x, scales, sizes, mode, ctm, nearest_mode, axes)
    return run


def _upsample(b, node, a):
    mode = _resize_mode(a.get("mode", "nearest"))

    def run(x, scales=None):
        s = a["scales"] if scales is None else _np(scales).reshape(-1).tolist()
        return _resize_apply(x, s, None, mode, "asymmetric", "floor", None)
    return run


# ------------------------------------------------------------------------------- shapes, consts

#: the ONNX TensorProto element types svertka computes with
_CASTABLE = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
             7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32,
             13: np.uint64}


def _cast(b, node, a):
    to = int(a["to"])
    if to not in _CASTABLE:
        raise Unsupported(f"to={to} (an element type svertka has no dtype for) is not "
                          "implemented")
    dt = np.dtype(_CASTABLE[to])

    def run(x):
        if _is_t(x):
            try:
                return x.to(_dtype.from_numpy_dtype(dt))
            except (TypeError, ValueError):
                return _np(x).astype(dt)
        return np.asarray(x).astype(dt)
    return run


def _shape(b, node, a):
    start, end = a.get("start", 0), a.get("end")
    return lambda x: np.array(tuple(x.shape)[start:end], dtype=np.int64)


def _tensor_attr(v):
    from onnx import numpy_helper

    return numpy_helper.to_array(v)


def _constant(b, node, a):
    if "value" in a:
        value = _tensor_attr(a["value"])
    elif "value_float" in a:
        value = np.array(a["value_float"], dtype=np.float32)
    elif "value_floats" in a:
        value = np.array(a["value_floats"], dtype=np.float32)
    elif "value_int" in a:
        value = np.array(a["value_int"], dtype=np.int64)
    elif "value_ints" in a:
        value = np.array(a["value_ints"], dtype=np.int64)
    else:
        raise Unsupported(f"attribute {sorted(a)} is not implemented")
    return lambda: value


def _constant_of_shape(b, node, a):
    value = _tensor_attr(a["value"]) if "value" in a else np.zeros(1, np.float32)

    def run(shape):
        return np.full(tuple(_ints(shape)), value.reshape(-1)[0], dtype=value.dtype)
    return run


def _reduce_mean(b, node, a):
    keep = bool(a.get("keepdims", 1))
    noop = bool(a.get("noop_with_empty_axes", 0))

    def run(x, axes=None):
        ax = _axes_of(b, a, axes)
        if not ax:
            if noop:
                return x
            ax = list(range(x.ndim))
        ax = tuple(sorted(_axis(i, x.ndim) for i in ax))
        if not _is_t(x):
            return np.mean(x, axis=ax, keepdims=keep).astype(x.dtype)
        return x.mean(dim=ax, keepdim=keep)
    return run


def _identity(b, node, a):
    return lambda x: x


HANDLERS = {
    "Conv": _conv, "ConvTranspose": _conv_transpose, "Gemm": _gemm, "MatMul": _matmul,
    "BatchNormalization": _batch_norm, "LRN": _lrn,
    "MaxPool": _pool("max"), "AveragePool": _pool("avg"),
    "GlobalAveragePool": _global_pool("avg"), "GlobalMaxPool": _global_pool("max"),
    "Relu": _unary(F.relu), "Sigmoid": _unary(F.sigmoid), "Tanh": _unary(F.tanh),
    "LeakyRelu": _leaky_relu, "PRelu": _prelu, "Elu": _elu, "Selu": _selu,
    "Softmax": _softmax(F.softmax), "LogSoftmax": _softmax(F.log_softmax),
    "Clip": _clip, "Dropout": _dropout,
    "Add": _binary(np.add, lambda x, y: x + y), "Sub": _binary(np.subtract, lambda x, y: x - y),
    "Mul": _binary(np.multiply, lambda x, y: x * y),
    "Div": _binary(np.divide, lambda x, y: x / y),
    "Concat": _concat, "Flatten": _flatten, "Reshape": _reshape, "Transpose": _transpose,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Gather": _gather, "Slice": _slice,
    "Pad": _pad, "Resize": _resize, "Upsample": _upsample, "Cast": _cast, "Shape": _shape,
    "Constant": _constant, "ConstantOfShape": _constant_of_shape, "ReduceMean": _reduce_mean,
    "Identity": _identity,
}
