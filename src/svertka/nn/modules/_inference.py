"""``nn.Sequential``'s forward when no graph is recorded: layers that follow a convolution or a
linear layer work in place on its output.

A convolution (or linear layer) makes a new array for its output; inside a Sequential only
the next module sees it. Under ``no_grad`` / ``inference_mode`` an eval-mode batch norm and a
ReLU / ReLU6 that follow it can therefore write their results into that array instead of
making new ones, as torch's inference fusions do: the same values (the same NumPy operations),
one array per layer group instead of three, each pass over memory that the previous one just
wrote. Conv-BN-ReLU is the pattern of ResNet and MobileNet blocks.

Nothing observable changes: the chain is taken only for modules of exactly these classes (a
subclass may override ``forward`` and keep its input), with no hooks of any kind on any of
them (a hook could keep the output), and never while a graph is recorded. Anything else runs
module by module as before.
"""

from __future__ import annotations

import numpy as np

from svertka.nn import functional as F
from svertka.nn.modules.activation import ReLU, ReLU6
from svertka.nn.modules.conv import Conv1d, Conv2d, Conv3d
from svertka.nn.modules.linear import Linear
from svertka.nn.modules.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = ["sequential_forward"]

# Modules whose output is a fresh array that only the caller holds.
_FRESH = (Conv1d, Conv2d, Conv3d, Linear)
_BATCH_NORMS = (BatchNorm1d, BatchNorm2d, BatchNorm3d)


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


def sequential_forward(modules, input):
    """Call ``modules`` one after the other on ``input`` (no graph is being recorded), the
    modules that follow a fresh output in place where they can (see the module's text)."""
    fresh = False
    for module in modules:
        if fresh:
            out = _in_place(module, input)
            if out is not None:
                continue
        fresh = type(module) in _FRESH and not _hooked(module)
        input = module(input)
    return input
