"""The backward pass: walk the graph in reverse topological order, iteratively.

The graph is made of ``Context`` nodes (one per Function call). ``backward`` sorts the nodes
reachable from the roots with an explicit stack (no recursion, so a 10,000-layer chain is fine),
then visits them children-first, calling each Function's ``backward`` once with the sum of the
gradients that reached its output, and hands the results to the producing nodes of its inputs,
or to the leaves.
"""

from __future__ import annotations

import weakref

import numpy as np

from svertka.autograd import grad_mode
from svertka.autograd.function import check_saved_versions
from svertka.autograd.hooks import NodeHooks, RemovableHandle, leaf_hooks, run_hooks, run_leaf_hooks

# id(leaf tensor) -> (weakref to it, {handle id: hook}): post-accumulate-grad hooks, kept here
# rather than on Tensor so that tensors without hooks cost nothing; an entry goes with its
# tensor or with its last hook.
_post_accumulate_hooks = {}


def register_post_accumulate_grad_hook(tensor, hook):
    """Call ``hook(tensor)`` once ``tensor.grad`` holds this backward's complete gradient.

    For leaves that require grad (torch's ``Tensor.register_post_accumulate_grad_hook``). The
    hook runs during the backward pass, as soon as no remaining node can add to this leaf's
    gradient, so work on it (a gradient all-reduce) overlaps the rest of the backward.
    """
    if tensor._ctx is not None or not tensor.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad hooks "
                           "can only be registered on leaf tensors that require grad")
    if not callable(hook):
        raise TypeError(f"register_post_accumulate_grad_hook: hook must be callable, got "
                        f"{type(hook).__name__}")
    key = id(tensor)
    entry = _post_accumulate_hooks.get(key)
    if entry is None:
        ref = weakref.ref(tensor, lambda _r, k=key: _post_accumulate_hooks.pop(k, None))
        entry = _post_accumulate_hooks[key] = (ref, {})
    handle = RemovableHandle(entry[1])
    entry[1][handle.id] = hook
    return handle


def _last_uses(order, leaf_ids):
    """For hooked leaves: node id -> the leaves whose last contribution that node makes.

    ``order`` is walked in reverse, so a leaf's last contributor is its consumer with the
    smallest position in ``order``.
    """
    last = {}
    for node in order:
        for inp, parent in zip(node.inputs, node.parents):
            if parent is None and inp is not None and id(inp) in leaf_ids and id(inp) not in last:
                last[id(inp)] = node
    by_node = {}
    for key, node in last.items():
        by_node.setdefault(id(node), []).append(key)
    return by_node


def _topological_order(roots, latest_first=False):
    """Nodes reachable from ``roots``, each after all nodes it depends on (post-order).

    With ``latest_first`` (when hooks are registered, which see the order), an op's inputs are
    expanded last-to-first, so that the backward runs the last input's branch (usually the one
    made last in the forward) first, nearer torch's order (latest node first). Without hooks
    the order only decides in which order three or more contributions to one gradient are
    summed, so the cheaper loop is kept.
    """
    order, seen = [], set()
    append, add = order.append, seen.add
    stack = [(r, False) for r in roots]
    pop, push = stack.pop, stack.append
    while stack:
        node, expanded = pop()
        if expanded:
            append(node)
            continue
        if node in seen:        # Contexts hash by identity
            continue
        add(node)
        push((node, True))
        for p in (reversed(node.parents) if latest_first else node.parents):
            if p is not None and p not in seen:
                push((p, False))
    return order


def _accumulate(store, key, g):
    prev = store.get(key)
    # out of place: ``g`` may be an array another node also received
    store[key] = g if prev is None else prev + g


def capture_maps(capture):
    """For ``capture`` (a list of Tensors, or None): ``(id(leaf) -> positions,
    id(node) -> positions, [None] * len(capture))``, where the captured gradients go."""
    capture_leaf, capture_node = {}, {}
    for i, t in enumerate(capture or ()):
        if t._ctx is None:
            capture_leaf.setdefault(id(t), []).append(i)
        else:
            capture_node.setdefault(id(t._ctx), []).append(i)
    return capture_leaf, capture_node, [None] * (len(capture) if capture is not None else 0)


def seed(roots, root_grads):
    """The walk's starting state: ``(node_grads, leaf_grads, root_nodes)``, the root gradients
    (arrays, or Tensors for a recorded backward) summed per node and per leaf."""
    node_grads = {}
    leaf_grads = {}       # id(tensor) -> [tensor, gradient]
    root_nodes = []
    for t, g in zip(roots, root_grads):
        if t._ctx is None:
            entry = leaf_grads.setdefault(id(t), [t, None])
            entry[1] = g if entry[1] is None else entry[1] + g
        else:
            _accumulate(node_grads, id(t._ctx), g)
            root_nodes.append(t._ctx)
    return node_grads, leaf_grads, root_nodes


def run_backward(roots, root_grads, retain_graph=False, capture=None):
    """Backpropagate ``root_grads`` (arrays) from ``roots`` (Tensors).

    Without ``capture``, gradients accumulate into the ``.grad`` of leaves that require grad.
    With ``capture`` (a list of Tensors), nothing is written to ``.grad``; the gradients of
    those tensors are returned instead (``None`` where none reached them).
    """
    from svertka.tensor import Tensor

    capture_leaf, capture_node, captured = capture_maps(capture)
    node_grads, leaf_grads, root_nodes = seed(roots, root_grads)

    for key in [k for k, (_, hooks) in _post_accumulate_hooks.items() if not hooks]:
        del _post_accumulate_hooks[key]                  # their last hook was removed
    order = _topological_order(root_nodes,
                               NodeHooks.live > 0 or bool(leaf_hooks or _post_accumulate_hooks))
    flush_after = {}
    if (_post_accumulate_hooks or leaf_hooks) and capture is None:
        # hooked leaves are written as soon as their last contributor ran, as torch's
        # AccumulateGrad node runs as soon as it is ready
        flush_after = _last_uses(order, set(_post_accumulate_hooks) | set(leaf_hooks))
    handed = set()
    pop = node_grads.pop
    get = node_grads.get
    ndarray = np.ndarray
    with grad_mode.no_grad():
        for node in reversed(order):
            key = id(node)
            gy = pop(key, None)
            if gy is None:
                if not retain_graph:
                    node._saved, node._freed = (), True
                continue
            hooks = node._hooks
            if hooks is not None:
                if hooks.hooks:
                    gy = run_hooks(hooks.hooks, gy)
                if hooks.retained is not None:  # also in autograd.grad, as torch
                    t = hooks.retained()
                    if t is not None and t._ctx is node:
                        t.grad = Tensor._make(np.array(gy) if t.grad is None
                                              else t.grad._data + gy)
            if capture_node and key in capture_node:
                for i in capture_node[key]:
                    captured[i] = gy
            versions = node._saved_versions
            if versions is not None:
                for counter, seen in versions:
                    if counter[0] != seen:
                        check_saved_versions(node)          # raises, naming the version
            grads = node.fn.backward(node, gy)
            if type(grads) is not tuple:
                grads = (grads,)
            if not retain_graph:
                node._saved, node._freed = (), True
            parents = node.parents
            if len(grads) < len(parents):
                raise RuntimeError(
                    f"function {node.name()} returned {len(grads)} gradients, expected "
                    f"{len(parents)}")
            i = -1
            for meta, parent, g in zip(node.input_meta, parents, grads):
                i += 1
                # meta is None where the input needs no gradient
                if meta is None or g is None:
                    continue
                if type(g) is not ndarray:
                    g = np.asarray(g)
                if g.shape != meta[0]:
                    raise RuntimeError(
                        f"function {node.name()} returned an invalid gradient at index {i}: "
                        f"got shape {g.shape}, expected {meta[0]}")
                if g.dtype != meta[1]:
                    g = g.astype(meta[1])
                if parent is not None:
                    pkey = id(parent)
                    prev = get(pkey)
                    # out of place: ``g`` may be an array another node also received
                    node_grads[pkey] = g if prev is None else prev + g
                else:
                    inp = node.inputs[i]
                    entry = leaf_grads.get(id(inp))
                    if entry is None:
                        leaf_grads[id(inp)] = [inp, g]
                    else:
                        entry[1] = entry[1] + g
            if flush_after and key in flush_after:
                for leaf_key in flush_after[key]:
                    entry = leaf_grads.pop(leaf_key, None)
                    if entry is not None:
                        _write_leaf_grad(entry[0], entry[1], handed, Tensor)

    if capture is not None:
        for key, (t, g) in leaf_grads.items():
            if key in capture_leaf:
                if leaf_hooks:
                    g = run_leaf_hooks(t, g)
                for i in capture_leaf[key]:
                    captured[i] = g
        return captured

    for t, g in leaf_grads.values():
        _write_leaf_grad(t, g, handed, Tensor)
    return None


def _write_leaf_grad(t, g, handed, Tensor):
    """Accumulate ``g`` into leaf ``t``'s ``.grad``, then run its post-accumulate hooks."""
    if not t._requires_grad:
        return
    if leaf_hooks:
        g = run_leaf_hooks(t, g)
    if t.grad is None:
        # a leaf's .grad must own its memory: users zero or update it in place
        if id(g) in handed or not (g.flags.owndata and g.flags.writeable):
            g = np.array(g, copy=True)
        handed.add(id(g))
        t.grad = Tensor._make(g)
    else:
        t.grad = Tensor._make(t.grad._data + g)
    entry = _post_accumulate_hooks.get(id(t))
    if entry is not None and entry[0]() is t:
        for hook in list(entry[1].values()):
            hook(t)
