"""Handlers of the tensor operators: arithmetic, movement (reshape, slice, pad, ...),
Resize/Upsample, shapes and constants. With NumPy inputs they compute in NumPy (folding)."""

from __future__ import annotations

import math

import numpy as np

import svertka.nn.functional as F
from svertka import _dtype
from svertka._creation import as_tensor
from svertka._tensor_ops import cat
from svertka.onnx._values import (
    Unsupported,
    _axis,
    _ints,
    _is_t,
    _np,
    _pad_flat,
    _t,
)
from svertka.tensor import where

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


def _unary(np_f, t_f):
    """An elementwise operator: NumPy on NumPy inputs (folding), ``t_f`` on Tensors."""
    def handler(b, node, a):
        def run(x):
            if not _is_t(x):
                x = np.asarray(x)
                return np_f(x).astype(x.dtype)
            return t_f(x)
        return run
    return handler


def _compare(np_f):
    """Less, Equal, ...: a boolean result has no gradient, so it is a NumPy array even for
    Tensor inputs (a ``Where`` reads it as its constant condition)."""
    def handler(b, node, a):
        return lambda x, y: np_f(_np(x), _np(y))
    return handler


def _where(b, node, a):
    def run(cond, x, y):
        cond = _np(cond).astype(bool)
        if not _is_t(x) and not _is_t(y):
            x, y = np.asarray(x), np.asarray(y)
            return np.where(cond, x, y).astype(np.result_type(x, y))
        return where(cond, _t(x), _t(y))
    return run


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


def _reduce(np_f, method):
    def handler(b, node, a):
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
                return np_f(x, axis=ax, keepdims=keep).astype(x.dtype)
            return getattr(x, method)(dim=ax, keepdim=keep)
        return run
    return handler


_reduce_mean = _reduce(np.mean, "mean")
_reduce_sum = _reduce(np.sum, "sum")


def _identity(b, node, a):
    return lambda x: x
