"""``autograd.grad``: the gradients of outputs with respect to inputs, returned rather than
accumulated (its own module so that ``gradcheck`` and ``functional`` can use it without
importing their package back)."""

from __future__ import annotations

import numpy as np


def _seq(x):
    from svertka.tensor import Tensor

    if isinstance(x, Tensor):
        return (x,), True
    return tuple(x), False


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    Args:
        outputs: a Tensor or a sequence of Tensors.
        inputs: a Tensor or a sequence of Tensors that the outputs depend on.
        grad_outputs: the upstream gradient of each output; may be omitted for single-element
            outputs (it is then 1).
        retain_graph: keep the graph for another backward (default: ``create_graph``).
        create_graph: record the backward pass itself, so that the returned gradients can be
            differentiated again (Hessian-vector products, gradient penalties); they are then
            Tensors with a ``grad_fn``.
        allow_unused: return ``None`` for an input the outputs do not depend on, instead of
            raising.

    Returns:
        A tuple with one Tensor (or ``None``) per input.

    Examples::

        >>> import svertka
        >>> x = svertka.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (g,) = svertka.autograd.grad((x ** 2).sum(), x)
        >>> g
        tensor([2., 4., 6.])
        >>> x.grad is None
        True
    """
    from svertka.autograd.engine import run_backward
    from svertka.tensor import Tensor

    outputs, _ = _seq(outputs)
    inputs, _ = _seq(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    else:
        grad_outputs, _ = _seq(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} "
                         f"outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    roots, root_grads = [], []
    for i, (o, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(o, Tensor):
            raise TypeError(f"grad: outputs must be Tensors, got {type(o).__name__} at {i}")
        if not o.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad and does not have a "
                               f"grad_fn")
        if g is None:
            if o._data.size != 1:
                raise RuntimeError(f"grad: grad can be implicitly created only for scalar "
                                   f"outputs; output {i} has shape {tuple(o.shape)}")
            g = np.ones(o._data.shape, dtype=o._data.dtype)
        elif create_graph and isinstance(g, Tensor):
            if g._data.shape != o._data.shape:
                raise RuntimeError(f"grad: grad_outputs[{i}] has shape {tuple(g.shape)}, but "
                                   f"output {i} has shape {o._data.shape}")
            if g._data.dtype != o._data.dtype:
                g = g.to(o.dtype)
        else:
            g = g._data if isinstance(g, Tensor) else np.asarray(g)
            if g.shape != o._data.shape:
                raise RuntimeError(f"grad: grad_outputs[{i}] has shape {g.shape}, but output "
                                   f"{i} has shape {o._data.shape}")
            g = g.astype(o._data.dtype, copy=False)
        roots.append(o)
        root_grads.append(g)
    if create_graph:
        # the backward pass recorded as a graph; the graph is kept (retain_graph follows
        # create_graph, as in torch) and the gradients are returned as they are
        from svertka.autograd.graph import run_backward_graph

        root_grads = [g if isinstance(g, Tensor) else Tensor._make(g) for g in root_grads]
        captured = run_backward_graph(roots, root_grads, capture=list(inputs))
        for i, g in enumerate(captured):
            if g is None and not allow_unused:
                raise RuntimeError(f"grad: one of the differentiated Tensors (input {i}) "
                                   f"appears to not have been used in the graph; set "
                                   f"allow_unused=True if this is the desired behavior")
        return tuple(captured)
    captured = run_backward(roots, root_grads, retain_graph=bool(retain_graph),
                            capture=list(inputs))
    result = []
    for i, g in enumerate(captured):
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: one of the differentiated Tensors (input {i}) "
                                   f"appears to not have been used in the graph; set "
                                   f"allow_unused=True if this is the desired behavior")
            result.append(None)
        else:
            result.append(Tensor._make(np.array(g, copy=True)))
    return tuple(result)
