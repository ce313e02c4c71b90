"""Tensor hooks: ``register_hook`` on leaves and non-leaves, and the removable handle.

A non-leaf tensor's hooks live on its graph node (``Context._hooks``), a leaf's in a table
keyed by ``id`` (with a weak reference), so a backward pass over tensors without hooks does no
extra work: one ``is None`` test per node, as for ``retain_grad``.
"""

from __future__ import annotations

import itertools
import warnings
import weakref
from collections import OrderedDict

import numpy as np

_ids = itertools.count()

# id(leaf tensor) -> (weakref to it, OrderedDict of hooks)
leaf_hooks = {}


class RemovableHandle:
    """A handle returned by the ``register_*hook`` methods, as ``torch.utils.hooks``.

    ``remove()`` unregisters the hook (a second call does nothing); used as a context manager,
    the hook is removed when the ``with`` block ends.

    Args:
        hooks_dict: the dict holding the hook under ``handle.id``.
        extra_dict: further dicts (or sets) the id is removed from as well.
    """

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.id = next(_ids)
        self._dicts = [hooks_dict]
        if extra_dict is not None:
            self._dicts += list(extra_dict) if isinstance(extra_dict, (list, tuple)) \
                else [extra_dict]

    def remove(self):
        """Unregister the hook; removing it twice is a no-op."""
        for d in self._dicts:
            if isinstance(d, set):
                d.discard(self.id)
            else:
                d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class NodeHooks:
    """The hooks of a non-leaf tensor, kept on its graph node: ``register_hook`` hooks in
    registration order, then ``retain_grad`` (run last, as torch 2's retains_grad hook)."""

    __slots__ = ("hooks", "retained")

    #: how many exist (graphs with hooks alive): the engine then follows torch's order
    live = 0

    def __init__(self):
        self.hooks = OrderedDict()
        self.retained = None
        NodeHooks.live += 1

    def __del__(self):
        NodeHooks.live -= 1


def node_hooks(ctx):
    """The ``NodeHooks`` of a graph node, created on first use."""
    h = ctx._hooks
    if h is None:
        h = ctx._hooks = NodeHooks()
    return h


def register_hook(tensor, hook):
    """``Tensor.register_hook``: see its docstring."""
    if not callable(hook):
        raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
    if not tensor.requires_grad:
        raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't "
                           "require gradient")
    if tensor._ctx is not None:
        hooks = node_hooks(tensor._ctx).hooks
    else:
        key = id(tensor)
        entry = leaf_hooks.get(key)
        if entry is None or entry[0]() is not tensor:
            ref = weakref.ref(tensor, lambda _r, k=key: leaf_hooks.pop(k, None))
            entry = leaf_hooks[key] = (ref, OrderedDict())
        hooks = entry[1]
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def run_hooks(hooks, g):
    """Call each hook on the gradient ``g`` (an array); a non-None result replaces it."""
    from svertka.tensor import Tensor

    for hook in list(hooks.values()):
        result = hook(Tensor._make(g))
        if result is None:
            continue
        new = result._data if isinstance(result, Tensor) else np.asarray(result)
        if new.shape != g.shape:
            raise RuntimeError(f"register_hook: hook {getattr(hook, '__name__', hook)!r} has "
                               f"changed the size of value: got shape {new.shape}, "
                               f"expected {g.shape}")
        g = new.astype(g.dtype, copy=False)
    return g


def run_leaf_hooks(t, g):
    """The gradient of leaf ``t`` after its ``register_hook`` hooks, if any."""
    entry = leaf_hooks.get(id(t))
    if entry is not None and entry[0]() is t and entry[1]:
        return run_hooks(entry[1], g)
    return g


# ---------------------------------------------------------------------- module backward hooks
def _identity_fn():
    from svertka.autograd.function import Function

    class BackwardHookFunction(Function):
        """The identity, as a graph node on which a module's backward hooks hang."""

        is_view = True

        @staticmethod
        def forward(ctx, x):
            return x.view()

        @staticmethod
        def backward(ctx, gy):
            return gy

        @staticmethod
        def backward_graph(ctx, gy):
            return gy

    return BackwardHookFunction


_IDENTITY = []


def _run_replacing(hooks, call, grads, n_wrapped, who, what, only):
    """Run module backward (pre-)hooks in order; each may return replacements for ``grads``
    (a tuple of the same length). Replacing is refused where several tensors were wrapped:
    each is its own graph node, so a replacement could not reach the others."""
    for hook in list(hooks):
        result = call(hook, grads)
        if result is None:
            continue
        result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        if len(result) != len(grads):
            raise RuntimeError(f"{who} returned an invalid number of {what}, got "
                               f"{len(result)}, but expected {len(grads)}")
        if n_wrapped > 1 and any(r is not g for r, g in zip(result, grads)):
            raise RuntimeError(f"{who.split(':')[0]}: replacing {what} is supported only for "
                               f"{only}")
        grads = result
    return grads


class BackwardHook:
    """One forward call's backward hooks (``Module.register_full_backward_hook`` and
    ``register_full_backward_pre_hook``), as torch's ``torch.utils.hooks.BackwardHook``.

    The tensor inputs that require grad and the tensor outputs are passed through identity
    nodes; hooks on those nodes gather ``grad_output`` (then run the pre-hooks, which may
    replace it) and ``grad_input`` (then run the hooks, which may replace it).

    Departure from torch: svertka's graph nodes have one output, so each input and output gets
    its own node. A module with several inputs (or outputs) that receive gradients has its hooks
    called once all of them have arrived, and then a replacement is refused.
    """

    def __init__(self, module, hooks, pre_hooks):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_index = None

    def _wrap(self, values):
        """Pass the Tensors in ``values`` that require grad through identity nodes."""
        from svertka.autograd import grad_mode
        from svertka.tensor import Tensor

        if not _IDENTITY:
            _IDENTITY.append(_identity_fn())
        if not grad_mode.is_grad_enabled():
            return list(values), []
        out, index = list(values), []
        for i, v in enumerate(values):
            if isinstance(v, Tensor) and v.requires_grad:
                out[i] = _IDENTITY[0].apply(v)
                index.append(i)
        return out, index

    def setup_input_hook(self, args):
        """Route the module's tensor inputs through one graph node, so the full backward hook
        sees (and may replace) their gradients; returns the arguments to call forward with."""
        self.n_inputs = len(args)
        wrapped, index = self._wrap(args)
        if not index:
            return args
        self.input_index = index
        grads = [None] * len(args)
        pending = [len(index)]

        def make(i):
            def hook(g):
                grads[i] = g
                pending[0] -= 1
                if pending[0]:
                    return None
                pending[0] = len(index)  # armed again for a backward through a kept graph
                return self._call_hooks(tuple(grads), i, len(index))
            return hook

        for i in index:
            wrapped[i].register_hook(make(i))
        return tuple(wrapped)

    def _call_hooks(self, grad_inputs, i, n_wrapped):
        grad_inputs = _run_replacing(
            self.hooks, lambda hook, g: hook(self.module, g, self.grad_outputs), grad_inputs,
            n_wrapped, "register_full_backward_hook: backward hook", "grad_input",
            "modules with one tensor input that requires grad (svertka's graph nodes have "
            "one output)")
        self.grad_outputs = None
        return grad_inputs[i]

    def setup_output_hook(self, result):
        """Route the module's tensor outputs through one graph node, where the backward pre-hooks
        and the hook's grad_output are taken; returns the result to hand back."""
        from svertka.tensor import Tensor

        single = isinstance(result, Tensor)
        values = (result,) if single else result
        if not isinstance(values, (tuple, list)):
            return result
        wrapped, index = self._wrap(values)
        if not index:
            return result
        grads = [None] * len(values)
        pending = [len(index)]

        def make(j):
            def hook(g):
                grads[j] = g
                pending[0] -= 1
                if pending[0]:
                    return None
                pending[0] = len(index)  # armed again for a backward through a kept graph
                return self._call_pre_hooks(grads, j, len(index))
            return hook

        for j in index:
            wrapped[j].register_hook(make(j))
        if single:
            return wrapped[0]
        return type(values)(wrapped)

    def _call_pre_hooks(self, grads, j, n_wrapped):
        grad_outputs = _run_replacing(
            self.pre_hooks, lambda hook, g: hook(self.module, g), tuple(grads), n_wrapped,
            "register_full_backward_pre_hook: backward pre hook", "grad_output",
            "modules with one output that receives a gradient")
        self.grad_outputs = grad_outputs
        if self.input_index is None:
            # no input requires grad: the hooks are called now, with None for each input
            grad_inputs = (None,) * self.n_inputs
            if self.hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with "
                              "respect to module outputs since no inputs require gradients.",
                              UserWarning, stacklevel=2)
            for hook in list(self.hooks):
                result = hook(self.module, grad_inputs, grad_outputs)
                if result is not None and not all(r is None for r in result):
                    raise RuntimeError("register_full_backward_hook: backward hook for "
                                       "Modules where no input requires gradient should "
                                       "always return None or None for all gradients.")
            self.grad_outputs = None
        return grad_outputs[j]
