"""Handlers of the layer operators: convolutions, Gemm/MatMul, normalisation, pooling,
activations, Dropout. Those whose weights are initializers become ``nn`` modules."""

from __future__ import annotations

import math

import numpy as np

import svertka.nn.functional as F
from svertka import nn
from svertka._creation import as_tensor
from svertka.kernels import pool as KP
from svertka.onnx._values import (
    Unsupported,
    _axis,
    _is_t,
    _np,
    _owned,
    _pad_flat,
    _pairs,
    _param,
    _t,
    _window_pairs,
    _zero_pad,
)
from svertka.ops.conv import ConvNd, ConvTransposeNd
from svertka.ops.pool import AvgPoolNd, MaxPoolNd

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
        x_shape = b.shape(0)
        if a.get("auto_pad", "NOTSET").startswith("SAME") and (
                x_shape is None or any(d is None for d in x_shape[2:])):
            static = None       # SAME padding of a spatial size known only at run time
        else:
            static = _window_pairs(a, x_shape, kernel, stride, dilation)
        common = tuple(min(lo, hi) for lo, hi in static) if static else (0,) * n
        # the asymmetric part of the padding is a ZeroPad module before the convolution, so
        # summary's receptive fields see where the windows start
        extra = tuple((lo - c, hi - c) for (lo, hi), c in zip(static, common)) if static \
            else ((0, 0),) * n
        pad = None
        if any(e != (0, 0) for e in extra):
            pad = b.add_module(getattr(nn, f"ZeroPad{n}d")(_pad_flat(extra)), {}, "_pad")
        conv = getattr(nn, f"Conv{n}d")(w.shape[1] * group, w.shape[0], kernel, stride,
                                        padding=common, dilation=dilation, groups=group,
                                        bias=has_bias)
        conv.weight = _param(w)
        if has_bias:
            conv.bias = _param(bias)
        b.add_module(conv, _owned(b, {"weight": 1, "bias": 2}))

        def run(x, *_):
            x = _t(x)
            if pad is not None:
                return conv(pad(x))
            if static is None:
                return conv(_zero_pad(x, _window_pairs(a, x.shape, kernel, stride, dilation)))
            return conv(x)
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
