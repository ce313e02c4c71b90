"""`svertka.autograd.functional`: Jacobians, Hessians and their products, as in torch.

Each function takes ``func`` (Tensors in, a Tensor or a tuple of Tensors out) and ``inputs``
(a Tensor or a tuple of Tensors) and differentiates ``func`` at ``inputs`` with reverse mode:

* ``vjp(func, inputs, v)``: ``v^T J`` (one backward pass);
* ``jvp(func, inputs, v)``: ``J v``, by the double-vjp trick (the backward pass, linear in its
  upstream gradient ``u``, is differentiated with respect to ``u``);
* ``jacobian(func, inputs)``: the full ``J``, one backward pass per output element;
* ``hessian(func, inputs)``: the Jacobian of the gradient of a scalar function;
* ``vhp``/``hvp``: ``v^T H`` and ``H v`` without forming ``H`` (two backward passes).

The results have the structure torch gives them: a Tensor where ``inputs`` (and the output) is
a single Tensor, tuples where they are tuples; ``jacobian`` of ``n`` outputs and ``m`` inputs
is an ``n``-tuple of ``m``-tuples of shape ``output.shape + input.shape``. An input the output
does not depend on gets zeros (``strict=True``: an error instead). With ``create_graph=False``
(the default) the results are detached; with ``create_graph=True`` they can be differentiated
again. ``vectorize=True`` and the forward-mode strategies are torch's batched/forward-mode
implementations, which svertka does not have: they are refused with an error.
"""

from __future__ import annotations

import numpy as np

from svertka.autograd import grad_mode

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _tensor_cls():
    from svertka.tensor import Tensor

    return Tensor


def _as_tuple(x, what, fn):
    """``(tuple of Tensors, was_tuple)``; a clear TypeError for anything else."""
    Tensor = _tensor_cls()
    if isinstance(x, Tensor):
        return (x,), False
    if isinstance(x, (tuple, list)) and all(isinstance(t, Tensor) for t in x):
        return tuple(x), True
    raise TypeError(f"{fn}: {what} must be a Tensor or a tuple of Tensors, got "
                    f"{type(x).__name__}")


def _grad_preprocess(inputs, create_graph):
    """Inputs that require grad, linked to the caller's graph only with ``create_graph``."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))          # keeps the caller's graph, as torch
        else:
            out.append(t.detach().requires_grad_(True))
    return tuple(out)


def _zeros_like(t):
    Tensor = _tensor_cls()
    return Tensor._make(np.zeros(t._data.shape, dtype=t._data.dtype))


def _check_v(v, like, fn, what="v"):
    """``v`` shaped like ``like`` (a tuple of Tensors), as a tuple."""
    v, _ = _as_tuple(v, what, fn)
    if len(v) != len(like):
        raise ValueError(f"{fn}: {what} has {len(v)} tensors, expected {len(like)} (one per "
                         f"{'input' if what == 'v' else 'output'})")
    for i, (a, b) in enumerate(zip(v, like)):
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(f"{fn}: {what}[{i}] has shape {tuple(a.shape)}, expected "
                             f"{tuple(b.shape)}")
    return v


def _grad(outputs, inputs, grad_outputs, create_graph, strict, fn, what="output"):
    """``autograd.grad`` over the outputs that require grad; zeros (or, when strict, an
    error) for the inputs they do not reach."""
    from svertka.autograd.gradients import grad

    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad and g is not None]
    if pairs:
        res = grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs],
                   create_graph=True if create_graph else None, retain_graph=True,
                   allow_unused=True)
    else:
        res = (None,) * len(inputs)
    out = []
    for i, (g, x) in enumerate(zip(res, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: the {what} of the user-provided function is "
                                   f"independent of input {i}; this is not allowed in strict "
                                   f"mode")
            g = _zeros_like(x)
        out.append(g)
    return tuple(out)


def _post(ts, create_graph):
    return tuple(t if create_graph else t.detach() for t in ts)


def _call(func, inputs, fn):
    out = func(*inputs)
    return _as_tuple(out, "the output of func", fn)


def _check_vectorize(vectorize, fn, strategy="reverse-mode", name="strategy"):
    if vectorize:
        raise ValueError(f"{fn}: vectorize=True is not supported: svertka has no batched "
                         f"(vmap) backward; leave vectorize=False")
    if strategy != "reverse-mode":
        raise ValueError(f"{fn}: {name}={strategy!r} is not supported: svertka has reverse "
                         f"mode only; use {name}='reverse-mode'")


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product of ``func`` at ``inputs``.

    ``v`` is shaped like the output (it may be omitted for a single-element output).

    Examples::

        >>> import svertka
        >>> from svertka.autograd.functional import vjp
        >>> x = svertka.tensor([1.0, 2.0], dtype=svertka.float64)
        >>> vjp(lambda t: t ** 3, x, svertka.ones(2, dtype=svertka.float64))[1]
        tensor([ 3., 12.], dtype=svertka.float64)
    """
    inputs, was_tuple = _as_tuple(inputs, "inputs", "vjp")
    with grad_mode.enable_grad():
        inputs = _grad_preprocess(inputs, create_graph)
        outputs, out_tuple = _call(func, inputs, "vjp")
        if v is None:
            if len(outputs) != 1 or outputs[0].numel() != 1:
                raise ValueError("vjp: v can be omitted only when func returns a single "
                                 "single-element Tensor")
            v = (_ones_like(outputs[0]),)
        else:
            v = _check_v(v, outputs, "vjp", "v")
        res = _grad(outputs, inputs, v, create_graph, strict, "vjp")
    outputs = _post(outputs, create_graph)
    res = _post(res, create_graph)
    return (outputs if out_tuple else outputs[0]), (res if was_tuple else res[0])


def _ones_like(t):
    Tensor = _tensor_cls()
    return Tensor._make(np.ones(t._data.shape, dtype=t._data.dtype))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-vjp trick.

    ``v`` is shaped like ``inputs`` (it may be omitted for a single single-element input).
    """
    inputs, was_tuple = _as_tuple(inputs, "inputs", "jvp")
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise ValueError("jvp: v can be omitted only when the input is a single "
                             "single-element Tensor")
        v = (_ones_like(inputs[0]),)
    else:
        v = _check_v(v, inputs, "jvp", "v")
    with grad_mode.enable_grad():
        inputs = _grad_preprocess(inputs, create_graph)
        outputs, out_tuple = _call(func, inputs, "jvp")
        # u: a dummy upstream gradient; g = J^T u is linear in u, so d<g, v>/du = J v
        us = tuple(_zeros_like(o).requires_grad_(True) for o in outputs)
        g = _grad(outputs, inputs, us, True, strict, "jvp")
        live = [(gi, vi) for gi, vi in zip(g, v) if gi.requires_grad]
        res = _grad([gi for gi, _ in live] or [], us, [vi for _, vi in live] or [],
                    create_graph, strict, "jvp", what="backward") if live else tuple(
            _zeros_like(o) for o in outputs)
    outputs = _post(outputs, create_graph)
    res = _post(res, create_graph)
    return (outputs if out_tuple else outputs[0]), (res if out_tuple else res[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``, one backward pass per output element.

    Shapes: ``output.shape + input.shape`` per (output, input) pair; nested tuples as torch
    (outputs outer, inputs inner) where either is a tuple.

    Examples::

        >>> import svertka
        >>> from svertka.autograd.functional import jacobian
        >>> jacobian(lambda t: t ** 2, svertka.tensor([1.0, 3.0], dtype=svertka.float64))
        tensor([[2., 0.],
                [0., 6.]], dtype=svertka.float64)
    """
    _check_vectorize(vectorize, "jacobian", strategy)
    from svertka.autograd.gradients import grad

    inputs, was_tuple = _as_tuple(inputs, "inputs", "jacobian")
    Tensor = _tensor_cls()
    with grad_mode.enable_grad():
        inputs = _grad_preprocess(inputs, create_graph)
        outputs, out_tuple = _call(func, inputs, "jacobian")
        jac = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            n = out.numel()
            for k in range(n if out.requires_grad else 0):
                e = np.zeros(n, dtype=out._data.dtype)
                e[k] = 1
                grads = grad(out, list(inputs), Tensor._make(e.reshape(out._data.shape)),
                             retain_graph=True, create_graph=create_graph, allow_unused=True)
                for j, g in enumerate(grads):
                    rows[j].append(g)
            blocks = []
            for j, x in enumerate(inputs):
                if strict and all(g is None for g in rows[j]):
                    raise RuntimeError(f"jacobian: output {i} of the user-provided function "
                                       f"is independent of input {j}; this is not allowed in "
                                       f"strict mode")
                blocks.append(_stack_rows(rows[j], out, x, create_graph))
            jac.append(tuple(blocks))
    if out_tuple:
        return tuple(j if was_tuple else j[0] for j in jac)
    return jac[0] if was_tuple else jac[0][0]


def _stack_rows(rows, out, x, create_graph):
    """The block ``d out / d x`` (shape ``out.shape + x.shape``) from the gradients of each
    output element (``None``: zero). Detached, one NumPy stack; with ``create_graph`` a sum of
    ``e_k (x) g_k`` so that it stays differentiable with Tensor operators alone."""
    Tensor = _tensor_cls()
    shape = tuple(out.shape) + tuple(x.shape)
    dt = x._data.dtype
    if not rows:                                   # the output does not require grad
        return Tensor._make(np.zeros(shape, dtype=dt))
    if not create_graph or not any(g is not None and g.requires_grad for g in rows):
        data = np.zeros((len(rows),) + tuple(x.shape), dtype=dt)
        for k, g in enumerate(rows):
            if g is not None:
                data[k] = g._data
        return Tensor._make(data.reshape(shape))
    block = None
    for k, g in enumerate(rows):
        if g is None:
            continue
        e = np.zeros((len(rows),) + (1,) * x.ndim, dtype=dt)
        e[k] = 1
        term = Tensor._make(e) * g.reshape((1,) + tuple(x.shape))
        block = term if block is None else block + term
    return block.reshape(shape)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs``: the Jacobian of its gradient.

    Shape ``input.shape + input.shape`` (a tuple of tuples for several inputs).
    """
    _check_vectorize(vectorize, "hessian", outer_jacobian_strategy, "outer_jacobian_strategy")
    inputs_t, was_tuple = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        out = func(*xs)
        out_t, _ = _as_tuple(out, "the output of func", "hessian")
        if len(out_t) != 1 or out_t[0].numel() != 1:
            raise ValueError("hessian: func must return a single-element Tensor, got "
                             f"{len(out_t)} output(s) of shape {tuple(out_t[0].shape)}")
        g = _grad(out_t, xs, (_ones_like(out_t[0]),), True, strict, "hessian")
        return g if was_tuple else g[0]

    return jacobian(gradient, inputs_t if was_tuple else inputs_t[0],
                    create_graph=create_graph, strict=strict)


def _scalar_output(func, inputs, fn):
    outputs, _ = _call(func, inputs, fn)
    if len(outputs) != 1 or outputs[0].numel() != 1:
        raise ValueError(f"{fn}: func must return a single-element Tensor, got "
                         f"{len(outputs)} output(s) of shape {tuple(outputs[0].shape)}")
    return outputs[0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar ``func``: two backward passes, no ``H``."""
    inputs, was_tuple = _as_tuple(inputs, "inputs", "vhp")
    v = _default_v(v, inputs, "vhp")
    with grad_mode.enable_grad():
        inputs = _grad_preprocess(inputs, create_graph)
        out = _scalar_output(func, inputs, "vhp")
        g = _grad((out,), inputs, (_ones_like(out),), True, strict, "vhp")
        live = [(gi, vi) for gi, vi in zip(g, v) if gi.requires_grad]
        if live:
            res = _grad([gi for gi, _ in live], inputs, [vi for _, vi in live], create_graph,
                        strict, "vhp", what="jacobian")
        else:
            res = tuple(_zeros_like(x) for x in inputs)
    out = out if create_graph else out.detach()
    res = _post(res, create_graph)
    return out, (res if was_tuple else res[0])


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for a scalar ``func``: ``H v`` by the double-vjp trick (equal
    to ``vhp`` when the second derivatives are continuous, and slower, as in torch)."""
    inputs, was_tuple = _as_tuple(inputs, "inputs", "hvp")
    v = _default_v(v, inputs, "hvp")
    with grad_mode.enable_grad():
        inputs = _grad_preprocess(inputs, create_graph)
        out = _scalar_output(func, inputs, "hvp")
        g = _grad((out,), inputs, (_ones_like(out),), True, strict, "hvp")
        ws = tuple(_zeros_like(x).requires_grad_(True) for x in inputs)
        live = [(gi, wi) for gi, wi in zip(g, ws) if gi.requires_grad]
        if live:
            # h = H^T w (linear in w); d<h, v>/dw = H v
            h = _grad([gi for gi, _ in live], inputs, [wi for _, wi in live], True, strict,
                      "hvp", what="jacobian")
            hl = [(hi, vi) for hi, vi in zip(h, v) if hi.requires_grad]
            res = _grad([hi for hi, _ in hl], ws, [vi for _, vi in hl], create_graph,
                        False, "hvp") if hl else tuple(_zeros_like(x) for x in inputs)
        else:
            res = tuple(_zeros_like(x) for x in inputs)
    out = out if create_graph else out.detach()
    res = _post(res, create_graph)
    return out, (res if was_tuple else res[0])


def _default_v(v, inputs, fn):
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise ValueError(f"{fn}: v can be omitted only when the input is a single "
                             f"single-element Tensor")
        return (_ones_like(inputs[0]),)
    return _check_v(v, inputs, fn, "v")
