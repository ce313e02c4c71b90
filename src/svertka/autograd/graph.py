"""The backward pass recorded as a graph: ``create_graph=True``, gradients of gradients.

The first-order engine (``engine.run_backward``) passes NumPy arrays between the nodes and
calls each Function's ``backward``: nothing of it is recorded. With ``create_graph=True`` the
walk is the same, but the gradients are Tensors, graph recording stays on, and each node runs
its Function's ``backward_graph(ctx, gy)``: the same formulas written with svertka ops on
Tensors. The saved inputs and outputs come back as graph Tensors (``ctx.saved_graph()``), so
the computed gradient depends on the inputs through recorded ops and can be differentiated
again (Hessian-vector products, gradient penalties, ``gradgradcheck``).

Two ways to write ``backward_graph``:

* directly, as the backward's formula on Tensors (``Exp``: ``gy * y``); the backward of a
  linear op is usually another op of the same family (a convolution's input gradient is a
  transposed convolution);
* by recomputation, for ops whose closed-form backward is long (normalisations, losses):
  ``vjp_by_recompute(ctx, gy, inputs, f)`` rebuilds the op's forward from simpler ops on the
  graph inputs and differentiates that (it is the same function, so the same gradient).

The graph is always kept (torch: ``retain_graph`` defaults to ``create_graph``).
"""

from __future__ import annotations

from svertka.autograd import grad_mode
from svertka.autograd.engine import (
    _post_accumulate_hooks,
    _topological_order,
    capture_maps,
    seed,
)
from svertka.autograd.function import Function, check_saved_versions
from svertka.autograd.hooks import leaf_hooks


class Alias(Function):
    """The identity as a graph node: ``vjp_by_recompute`` captures gradients on it."""

    is_view = True

    @staticmethod
    def forward(ctx, x):
        return x.view()

    @staticmethod
    def backward(ctx, gy):
        return gy

    @staticmethod
    def backward_graph(ctx, gy):
        """The identity: ``gy``."""
        return gy


def sum_to(g, shape):
    """``g`` (a Tensor) summed over the axes that broadcasting added or stretched, to
    ``shape``: the graph form of ``ops.elementwise.unbroadcast``."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if axes:
        g = g.sum(dim=axes, keepdim=True)
    return g.reshape(shape)


def vjp_by_recompute(ctx, gy, inputs, f):
    """The gradients of ``f(*inputs)`` with upstream ``gy``, as graph Tensors.

    ``inputs`` are graph Tensors (``ctx.input_graph``/``saved_graph``) or ``None``/constants;
    ``f`` rebuilds the op's output from them with svertka ops. Returns one gradient per input
    (``None`` where the node does not need one).
    """
    proxies = []
    want = []
    for i, x in enumerate(inputs):
        if x is not None and ctx.needs_input_grad[i] and x.requires_grad:
            p = Alias.apply(x)
            proxies.append(p)
            want.append(p)
        else:
            proxies.append(x)
    out = f(*proxies)
    if not want:
        return (None,) * len(inputs)
    grads = iter(run_backward_graph([out], [gy], capture=want))
    wanted = {id(p) for p in want}
    return tuple(next(grads) if id(p) in wanted else None for p in proxies)


def _run_tensor_hooks(hooks, g):
    """Call each hook on the gradient Tensor ``g``; a non-None result replaces it."""
    for hook in list(hooks.values()):
        result = hook(g)
        if result is None:
            continue
        if tuple(result.shape) != tuple(g.shape):
            raise RuntimeError(f"register_hook: hook {getattr(hook, '__name__', hook)!r} has "
                               f"changed the size of value: got shape {tuple(result.shape)}, "
                               f"expected {tuple(g.shape)}")
        g = result
    return g


def _needed(order, capture_node, capture_leaf):
    """The nodes from which a captured tensor is reachable (the others need not run)."""
    needed = set()
    for node in order:  # parents before children
        if id(node) in capture_node or any(
                p is not None and id(p) in needed for p in node.parents) or any(
                inp is not None and id(inp) in capture_leaf for inp in node.inputs):
            needed.add(id(node))
    return needed


def run_backward_graph(roots, root_grads, capture=None):
    """Backpropagate ``root_grads`` (Tensors) from ``roots`` (Tensors), recording the graph.

    Without ``capture``, gradients accumulate into the ``.grad`` of leaves that require grad
    (``leaf.grad = leaf.grad + g``, a Tensor with its own graph). With ``capture`` (a list of
    Tensors), nothing is written to ``.grad`` and only the nodes leading to those tensors run;
    their gradients are returned (``None`` where none reached them).
    """
    from svertka.tensor import Tensor

    capture_leaf, capture_node, captured = capture_maps(capture)
    node_grads, leaf_grads, root_nodes = seed(roots, root_grads)  # Tensors here

    order = _topological_order(root_nodes, latest_first=True)
    needed = _needed(order, capture_node, capture_leaf) if capture is not None else None
    with grad_mode.enable_grad():
        for node in reversed(order):
            key = id(node)
            if needed is not None and key not in needed:
                continue
            gy = node_grads.pop(key, None)
            if gy is None:
                continue
            hooks = node._hooks
            if hooks is not None:
                if hooks.hooks:
                    gy = _run_tensor_hooks(hooks.hooks, gy)
                if hooks.retained is not None:
                    t = hooks.retained()
                    if t is not None and t._ctx is node:
                        t.grad = gy if t.grad is None else t.grad + gy
            if key in capture_node:
                for i in capture_node[key]:
                    captured[i] = gy
            if node._saved_versions is not None:
                check_saved_versions(node)
            grads = node.fn.backward_graph(node, gy)
            if type(grads) is not tuple:
                grads = (grads,)
            parents = node.parents
            if len(grads) < len(parents):
                raise RuntimeError(
                    f"function {node.name()} returned {len(grads)} gradients, expected "
                    f"{len(parents)}")
            for i, (need, parent, g) in enumerate(zip(node.needs_input_grad, parents, grads)):
                if not need or g is None:
                    continue
                shape, dtype = node.input_meta[i]
                if not isinstance(g, Tensor):
                    g = Tensor._make(g)
                if tuple(g.shape) != tuple(shape):
                    raise RuntimeError(
                        f"function {node.name()} returned an invalid gradient at index {i}: "
                        f"got shape {tuple(g.shape)}, expected {tuple(shape)}")
                if g._data.dtype != dtype:
                    g = g.to(dtype)  # a differentiable cast
                if parent is not None:
                    pkey = id(parent)
                    if needed is not None and pkey not in needed:
                        continue
                    prev = node_grads.get(pkey)
                    node_grads[pkey] = g if prev is None else prev + g
                else:
                    inp = node.inputs[i]
                    entry = leaf_grads.setdefault(id(inp), [inp, None])
                    entry[1] = g if entry[1] is None else entry[1] + g

        if capture is not None:
            for key, (t, g) in leaf_grads.items():
                if key in capture_leaf:
                    g = _leaf_hooked(t, g)
                    for i in capture_leaf[key]:
                        captured[i] = g
            return captured

        for t, g in leaf_grads.values():
            if not t.requires_grad:
                continue
            g = _leaf_hooked(t, g)
            t.grad = g if t.grad is None else t.grad + g
            entry = _post_accumulate_hooks.get(id(t))
            if entry is not None and entry[0]() is t:
                for hook in list(entry[1].values()):
                    hook(t)
    return None


def _leaf_hooked(t, g):
    entry = leaf_hooks.get(id(t))
    if entry is not None and entry[0]() is t and entry[1]:
        return _run_tensor_hooks(entry[1], g)
    return g
