"""``nn.Sequential``'s forward when no graph is recorded: an eval-mode batch norm after a
convolution is folded into it, and layers that follow a convolution or a linear layer work in
place on its output.

A convolution followed by a batch norm with fixed statistics is one convolution: with the batch
norm's per-channel ``scale = weight / sqrt(running_var + eps)`` and ``shift = bias - running_mean
* scale``, ``bn(conv(x, w, b)) = conv(x, w * scale, b * scale + shift)`` (what torch's
``fuse_conv_bn_eval`` and every inference engine do). The folded weight and bias are computed
once and cached per batch-norm module, for layers whose weight is no larger than their output
(elsewhere the batch norm runs in place on the convolution's output, so that a model's large
weights are not held twice); the cache is keyed on the six tensors involved (the
objects, their arrays and their version counters), so any change made through svertka (an
optimizer step, ``load_state_dict``, ``copy_``, ``nn.init``, training-mode statistics, assigning
a new parameter or ``.data``) recomputes it. Writes that bypass the version counter (into the
array returned by ``.numpy()`` or into ``_data``) are not seen, as torch's version checks do not
see them either. The folded convolution gives the unfolded result up to float rounding (the
products are rounded in another order: about 1e-7 relative in float32, 1e-16 in float64).

A convolution (or linear layer) makes a new array for its output; inside a Sequential only
the next module sees it. Under ``no_grad`` / ``inference_mode`` an eval-mode batch norm and a
ReLU / ReLU6 that follow it can therefore write their results into that array instead of
making new ones, as torch's inference fusions do: the same values (the same NumPy operations),
one array per layer group instead of three, each pass over memory that the previous one just
wrote. Conv-BN-ReLU is the pattern of ResNet and MobileNet blocks.

Nothing else observable changes: the chain is taken only for modules of exactly these classes
(a subclass may override ``forward`` and keep its input), with no hooks of any kind on any of
them (a hook could keep the output), and never while a graph is recorded. Anything else runs
module by module as before. A convolution called again with the shapes, dtypes and settings
it was checked with goes straight to its kernel. Residual blocks, which call their layers one
by one, get the same path through ``conv_bn_act`` and ``add_act`` (the zoo's ResNet blocks).
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from svertka._validate import ntuple
from svertka.autograd import grad_mode
from svertka.kernels import conv as K
from svertka.nn import functional as F
from svertka.nn.functional.conv import _padding_pairs
from svertka.nn.modules.activation import ReLU, ReLU6
from svertka.nn.modules.conv import Conv1d, Conv2d, Conv3d
from svertka.nn.modules.linear import Linear
from svertka.nn.modules.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d
from svertka.ops import norm as N
from svertka.tensor import Tensor

__all__ = ["sequential_forward", "conv_bn_act", "add_act"]

# Modules whose output is a fresh array that only the caller holds.
_FRESH = (Conv1d, Conv2d, Conv3d, Linear)
_BATCH_NORMS = (BatchNorm1d, BatchNorm2d, BatchNorm3d)
_CONVS = (Conv1d, Conv2d, Conv3d)
_FLOATS = (np.float32, np.float64)

# batch-norm module -> (key, (folded weight, folded bias) or None); weak,
# so that a module's cache goes with it and is never pickled or copied with the model
_FOLDED = weakref.WeakKeyDictionary()
# convolution module -> (key, kernel arguments) of its last call that went through the checks
_CHECKED = weakref.WeakKeyDictionary()


def _hooked(module):
    """Whether ``module`` has a hook of any kind (the dicts ``Module.__call__`` reads)."""
    d = module.__dict__
    return bool(d.get("_forward_pre_hooks") or d.get("_forward_hooks")
                or d.get("_backward_hooks") or d.get("_backward_pre_hooks"))


def _in_place(module, out):
    """Apply ``module`` (which follows a fresh output ``out``) in ``out``'s memory; returns
    ``out``, or ``None`` when ``module`` cannot (the caller then calls it as usual)."""
    kind = type(module)
    if kind in _BATCH_NORMS:
        if module.training or _hooked(module):
            return None
        module._check_input_dim(out)
        return F.normalization._batch_norm_eval_(
            out, module.running_mean, module.running_var, module.weight, module.bias,
            0.0 if module.momentum is None else module.momentum, module.eps)
    if kind is ReLU or kind is ReLU6:
        x = out._data
        if x.dtype.kind != "f" or not x.flags.writeable or _hooked(module):
            return None
        if kind is ReLU:
            np.maximum(x, 0, out=x)                        # as ops.elementwise.Relu
        else:
            np.clip(x, x.dtype.type(0.0), x.dtype.type(6.0), out=x)   # as ops' Hardtanh
        out._version[0] += 1
        return out
    return None


def _operands(conv, bn):
    """The six tensors a fold reads (some may be ``None``), from the modules' own dicts."""
    cp, bp, bb = conv._parameters, bn._parameters, bn._buffers
    return (cp.get("weight"), cp.get("bias"), bp.get("weight"), bp.get("bias"),
            bb.get("running_mean"), bb.get("running_var"))


def _fold_key(bn, tensors):
    """What the folded weights depend on: ``eps`` and ``momentum`` (checked when folding), each
    tensor and its array (compared by identity) and its version."""
    objs, versions = [], []
    for t in tensors:
        if t is None:
            objs += (None, None)
            versions.append(None)
        else:
            objs += (t, t._data)
            versions.append(t._version[0])
    return bn.eps, bn.momentum, objs, versions


def _same_key(a, b):
    return (a[0] == b[0] and a[1] == b[1] and a[3] == b[3]
            and all(x is y for x, y in zip(a[2], b[2])))


def _foldable(conv, bn, tensors):
    """Whether ``bn`` (eval mode) can be folded into ``conv``: float32/64 tensors of one dtype,
    one ``(C,)`` value per output channel, running statistics, a valid ``eps`` and
    ``momentum`` (anything else takes the modules' own path and its checks and errors)."""
    w = tensors[0]
    if not isinstance(w, Tensor) or w._data.dtype not in _FLOATS:
        return False
    dt, C, rank = w._data.dtype, w._data.shape[0], w._data.ndim - 2
    eps, momentum = bn.eps, bn.momentum
    return (rank + 2 in bn._ranks and bn.num_features == C
            and type(eps) in (float, int) and eps >= 0
            and (momentum is None or type(momentum) in (float, int))
            and tensors[4] is not None and tensors[5] is not None
            and all(t is None or (isinstance(t, Tensor) and t._data.dtype == dt
                                  and t._data.shape == (C,)) for t in tensors[1:]))


def _constant(a):
    t = Tensor._make(a)
    if t.is_inference():            # a cache made under inference_mode serves no_grad too
        del t._inference
    return t


def _folded(conv, bn):
    """``(weight, bias)`` Tensors of ``conv`` with ``bn`` folded in, cached per ``bn``;
    ``None`` where ``bn`` cannot be folded into ``conv``."""
    tensors = _operands(conv, bn)
    key = _fold_key(bn, tensors)
    hit = _FOLDED.get(bn)
    if hit is not None and _same_key(hit[0], key):
        return hit[1]
    folded = None
    if _foldable(conv, bn, tensors):
        w, b, weight, bias, mean, var = (None if t is None else t._data for t in tensors)
        wf, bf = N.fold_batch_norm(w, b, mean, var, weight, bias, float(bn.eps))
        folded = (_constant(wf), _constant(bf))
    _FOLDED[bn] = (key, folded)
    return folded


def _fold_pays(conv, input):
    """Whether to fold ``bn`` into ``conv`` for this call: the fold keeps a second copy of the
    convolution's weight, so it is done only where that copy is no larger than the output whose
    extra pass it saves (early, wide layers; at batch 1 a late 3x3 layer's 2.4 MB weight is
    kept once, and its 25 KB output gets the batch norm in place instead: ResNet-18 would
    otherwise hold its 47 MB of weights twice)."""
    w, x = conv._parameters.get("weight"), input._data
    if not isinstance(w, Tensor) or x.ndim != w._data.ndim:
        return True                         # the fold path declines these itself
    stride = conv.stride
    step = math.prod(stride) if isinstance(stride, tuple) else stride ** (x.ndim - 2)
    return w._data.size * max(step, 1) <= x.shape[0] * w._data.shape[0] * math.prod(x.shape[2:])


def _conv_bn(conv, bn, input):
    """``bn(conv(input))`` as one convolution with ``bn`` folded in, or ``None`` where that does
    not apply (the caller then runs the two modules as usual, with their checks)."""
    if (type(conv) not in _CONVS or type(bn) not in _BATCH_NORMS or bn.training
            or not isinstance(input, Tensor)
            or _hooked(conv) or _hooked(bn)):
        return None
    if not _fold_pays(conv, input):
        out = _conv_call(conv, input, conv.weight, conv._parameters.get("bias"))
        done = _in_place(bn, out)
        return bn(out) if done is None else done
    folded = _folded(conv, bn)
    if folded is None:
        return None
    wf, bt = folded
    if input._data.dtype != wf._data.dtype or input._data.ndim != wf._data.ndim:
        return None                         # another dtype or an unbatched input
    return _conv_call(conv, input, wf, bt)  # the kernel adds the bias as it writes, or after


def _conv_call(conv, input, weight, bias):
    """``conv._conv_forward(input, weight, bias)`` without a graph. The first call with given
    shapes and dtypes takes the usual path (``nn.functional``'s checks, then the op); it
    remembers the checked call, and later calls with the same shapes, dtypes and module
    settings go straight to the kernel (the op's forward without a graph is that call): a
    layer of a small network spends more time in the checks than in its arithmetic."""
    x, w = input._data, weight._data
    b = None if bias is None else bias._data
    key = (x.shape, x.dtype, w.shape, w.dtype, None if b is None else (b.shape, b.dtype),
           conv.stride, conv.padding, conv.dilation, conv.groups, conv.padding_mode)
    hit = _CHECKED.get(conv)
    if hit is not None and hit[0] == key:
        return Tensor._make(K.conv_forward(x, w, *hit[1], bias=b))
    out = conv._conv_forward(input, weight, bias)
    n = w.ndim - 2
    if conv.padding_mode == "zeros" and x.ndim == n + 2:
        stride = ntuple(conv.stride, n, "stride", "conv")
        dilation = ntuple(conv.dilation, n, "dilation", "conv")
        pads = _padding_pairs("conv", conv.padding, n, w.shape[2:], stride, dilation)
        _CHECKED[conv] = (key, (stride, pads, dilation, conv.groups))
    return out


def sequential_forward(modules, input):
    """Call ``modules`` one after the other on ``input`` (no graph is being recorded): a
    convolution and the eval-mode batch norm after it as one folded convolution, the modules
    that follow a fresh output in place where they can (see the module's text)."""
    modules = list(modules)
    fresh, i, n = False, 0, len(modules)
    while i < n:
        module = modules[i]
        i += 1
        if fresh:
            out = _in_place(module, input)
            if out is not None:
                continue
        if type(module) in _CONVS:
            out = _conv_bn(module, modules[i], input) if i < n else None
            if out is not None:
                input, fresh, i = out, True, i + 1
                continue
            if not _hooked(module) and isinstance(input, Tensor):
                input, fresh = _conv_call(module, input, module.weight,
                                          module._parameters.get("bias")), True
                continue
        fresh = type(module) in _FRESH and not _hooked(module)
        input = module(input)
    return input


# ----------------------------------------------------------------------------- blocks
# Residual blocks call their layers one by one rather than through a Sequential; these two
# helpers give them the same inference path. ``fresh`` says that a result is an array the
# block itself just made and handed to nobody else (so it may be overwritten).

def conv_bn_act(conv, bn, act, input):
    """``act(bn(conv(input)))`` (``act`` may be ``None``) for a block's forward; returns
    ``(output, fresh)``. Without a graph, an eval-mode ``bn`` is folded into ``conv`` and
    ``act`` (a ReLU or ReLU6 without hooks) runs in place on the fresh result, as in
    ``sequential_forward``; otherwise the three modules are called as usual."""
    out = None if grad_mode.is_grad_enabled() else _conv_bn(conv, bn, input)
    if out is None:
        out = bn(conv(input))
        return (out, False) if act is None else (act(out), False)
    if act is not None and _in_place(act, out) is None:
        return act(out), False
    return out, True


def add_act(out, fresh, other, act):
    """``act(out + other)`` (``act`` may be ``None``) for a residual connection, where ``out``
    is the block's branch and ``fresh`` says that the block made it and holds the only
    reference (``conv_bn_act``'s flag): then, without a graph, the sum and the activation are
    written into ``out``'s memory (the same values)."""
    if (fresh and not grad_mode.is_grad_enabled() and isinstance(other, Tensor)
            and other._data.shape == out._data.shape and other._data.dtype == out._data.dtype
            and out._data.flags.writeable):
        x = out._data
        np.add(x, other._data, out=x)
        out._version[0] += 1
        if act is None or _in_place(act, out) is not None:
            return out
        return act(out)
    out = out + other
    return out if act is None else act(out)
