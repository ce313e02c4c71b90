"""`Function`: one differentiable operation, its forward and backward side by side.

A Function works on NumPy arrays. ``apply`` unwraps the Tensor arguments, runs ``forward``,
wraps the result in a Tensor and, when gradients are wanted, links it to a ``Context``: the
node of the graph that remembers what ``backward`` will need.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = np.exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, gy):
            (y,) = ctx.saved_tensors
            return gy * y

        @staticmethod
        def backward_graph(ctx, gy):        # gy: a Tensor; for create_graph=True
            (y,) = ctx.saved_graph()        # y as a Tensor whose grad_fn is this node
            return gy * y

``backward`` is the fast NumPy path of first-order gradients; ``backward_graph`` computes the
same gradients with svertka ops on Tensors, so that ``backward(create_graph=True)`` records
the backward pass itself and gradients of gradients exist (see ``autograd.graph``).

Rules that every Function follows:

* positional arguments of ``apply`` are the differentiable inputs: Tensors, NumPy arrays or
  Python scalars (constants, no gradient) or ``None``; keyword arguments are plain
  parameters (stride, dim, ...), passed to ``forward`` unchanged;
* ``forward`` returns one ndarray; ``backward`` receives the gradient of that output and returns
  one gradient (or ``None``) per positional argument, a bare array when there is one argument;
* ``backward`` never modifies ``gy`` in place (it may be shared with other nodes);
* ``ctx.needs_input_grad[i]`` says whether input ``i`` needs a gradient, so work can be skipped.
"""

from __future__ import annotations

import numpy as np

from svertka.autograd import grad_mode


class Context:
    """Per-call state of a Function, and the graph node (``tensor.grad_fn``) of its output.

    Attributes:
        fn: the Function subclass.
        inputs: per positional input, the Tensor where it is a leaf that requires grad (its
            ``.grad`` receives the gradient), else ``None``.
        input_meta: per positional input that requires grad, its ``(shape, dtype)``.
        parents: per positional input, the producing ``Context`` of that input at the time of
            the call (``None`` for leaves and constants).
        needs_input_grad: per positional input, whether it requires a gradient.
    """

    __slots__ = ("fn", "inputs", "input_meta", "parents", "needs_input_grad", "_saved",
                 "_saved_versions", "_saved_roles", "_freed", "_hooks", "__dict__", "__weakref__")

    def __init__(self, fn):
        self.fn = fn
        self._saved = ()
        self._saved_versions = None
        self._saved_roles = None
        self._freed = False
        self._hooks = None  # autograd.hooks.NodeHooks: register_hook, retain_grad

    def save_for_backward(self, *arrays):
        """Keep arrays (inputs, outputs or intermediates) for ``backward``.

        Inputs and the output saved here are guarded by the version counter: modifying them in
        place before ``backward`` makes ``backward`` raise instead of returning a wrong gradient.
        """
        self._saved = arrays

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(
                "backward: trying to backward through the graph a second time (or directly "
                "access saved tensors after they have already been freed). Saved intermediate "
                "values of the graph are freed when you call .backward() or autograd.grad(). "
                "Specify retain_graph=True if you need to backward through the graph a second "
                "time or if you need to access saved tensors after calling backward.")
        return self._saved

    # ---- for ``backward_graph`` (create_graph=True): the node's values as graph Tensors
    def saved_graph(self):
        """The saved arrays as Tensors linked to the graph, for ``backward_graph``.

        An array that is input ``i``'s data becomes that input (the leaf itself, or a Tensor
        whose ``grad_fn`` is the input's producer), the output's array becomes this node's
        output, and anything else a constant: so a gradient computed from them can be
        differentiated again with respect to the inputs.
        """
        saved = self.saved_tensors
        roles = self._saved_roles or (None,) * len(saved)
        out = []
        for s, role in zip(saved, roles):
            if s is None:
                out.append(None)
            elif role is None:
                out.append(_constant(s))
            elif role == -1:
                out.append(self.output_graph(s))
            else:
                out.append(self.input_graph(role, s))
        return tuple(out)

    def input_graph(self, i, data):
        """Input ``i`` as a graph Tensor holding ``data`` (its values, kept or rebuilt by the
        op): the leaf itself, a Tensor whose ``grad_fn`` is the input's producer, or a
        constant where the input needs no gradient."""
        if not self.needs_input_grad[i]:
            return _constant(data)
        leaf = self.inputs[i]
        if leaf is not None:
            return leaf
        t = _constant(data)
        t._requires_grad = True
        t._ctx = self.parents[i]
        return t

    def output_graph(self, data):
        """This node's output (``data``) as a graph Tensor whose ``grad_fn`` is this node."""
        t = _constant(data)
        t._requires_grad = True
        t._ctx = self
        return t

    def name(self):
        """The node's name, ``'<Function>Backward'`` (torch appends a number: ``AddBackward0``)."""
        return self.fn.__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()} object>"

    # torch exposes grad_fn.next_functions; handy for drawing graphs.
    @property
    def next_functions(self):
        return tuple(self.parents)


class Function:
    """Base class of differentiable operations; see the module docstring."""

    # True for Functions whose output is a view of their first input (shares its version
    # counter).
    is_view = False


    @staticmethod
    def forward(ctx, *args, **kwargs):
        """Compute the output (one ndarray) from the input arrays; ``ctx`` stores what
        ``backward`` needs. Every operation overrides it.
        """
        raise NotImplementedError

    @staticmethod
    def backward(ctx, gy):
        """The gradient of each positional input of ``forward`` (or ``None``), given the gradient
        ``gy`` of the output. Every operation overrides it.
        """
        raise NotImplementedError

    @staticmethod
    def backward_graph(ctx, gy):
        """The gradients of ``backward``, computed from Tensors with svertka ops, so that
        ``create_graph=True`` records a differentiable graph of the backward pass.

        ``gy`` is a Tensor; the inputs and output come from ``ctx.saved_graph()`` (or
        ``ctx.input_graph``/``output_graph``). ``backward`` stays the fast NumPy path of
        first-order gradients. This default refuses, naming the op.
        """
        raise RuntimeError(
            f"backward: create_graph=True needs the backward of {ctx.name()} as a graph, "
            f"which {ctx.fn.__name__} does not define (a Function's backward_graph); its "
            f"gradients cannot be differentiated again")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the inputs' arrays and return the output Tensor, linked to a new
        ``Context`` when gradient mode is on and an input requires grad.
        """
        # The hot path of every op: one pass over the arguments, no generator expressions.
        Tensor = _TENSOR[0] if _TENSOR else _load_tensor()
        ctx = Context(cls)
        if not grad_mode._enabled:
            # No graph: only unwrap the Tensors (the common case of inference).
            arrays = [a._data if isinstance(a, Tensor) else a for a in args]
            ctx.needs_input_grad = (False,) * len(args)
            out = cls.forward(ctx, *arrays, **kwargs)
            any_grad = False
        else:
            arrays = []
            needs = []
            parents = []
            inputs = []
            meta = []
            any_grad = False
            for a in args:
                if isinstance(a, Tensor):
                    d = a._data
                    arrays.append(d)
                    if a._requires_grad:
                        any_grad = True
                        needs.append(True)
                        # Only the leaves are kept (their .grad is written); of the other
                        # inputs the node needs just the shape and dtype, so an intermediate
                        # result that the backward does not use (a conv's output under a
                        # ReLU) is freed as in torch.
                        p = a._ctx
                        parents.append(p)
                        inputs.append(a if p is None else None)
                        meta.append((d.shape, d.dtype))
                        continue
                else:
                    arrays.append(a)
                needs.append(False)
                parents.append(None)
                inputs.append(None)
                meta.append(None)
            ctx.needs_input_grad = tuple(needs)
            out = cls.forward(ctx, *arrays, **kwargs)
        if type(out) is not np.ndarray and not isinstance(out, np.ndarray):
            out = np.asarray(out)
        result = Tensor._make(out)
        if any_grad and out.dtype.kind in "fc":
            result._requires_grad = True
            result._ctx = ctx
            ctx.parents = tuple(parents)
            ctx.inputs = tuple(inputs)
            ctx.input_meta = tuple(meta)
            if ctx._saved:
                _record_versions(ctx, args, arrays, out, result, Tensor)
            if _KEEP_CALLS:
                ctx.call = (args, kwargs, out.shape, out.dtype)
        if cls.is_view and isinstance(args[0], Tensor):
            # A view shares its base's version counter, as in torch: modifying either in
            # place invalidates what the graph saved from the other.
            result._version = args[0]._version
        return result


_TENSOR = []

# While true (inside ``keep_calls()``), every node of the graph also keeps the arguments of its
# call and its output's shape and dtype, ``ctx.call = (args, kwargs, shape, dtype)``: the ONNX
# exporter reads the graph with its constants (buffers, scalars) and parameters (stride, ...).
# Off otherwise, so that a node does not keep its intermediate inputs alive.
_KEEP_CALLS = False
# Bool results have no node (no gradient); inside ``keep_calls()`` the comparisons of Tensors
# (and the casts of their bool results to numbers) note here how each array was made,
# ``id(array) -> (array, ufunc, operands)``, so that the exporter can write a mask (a ``where``
# condition, a factor ``(x > 0).float()``) as the comparison that made it.
_BOOLS = {}


class keep_calls:
    """Context manager: the nodes recorded inside it keep their call's arguments
    (``ctx.call``), and its ``bools`` dict tells how each comparison's bool array was made
    (see :func:`note_bool`); used by ``svertka.onnx.export`` to read a traced forward."""

    def __enter__(self):
        global _KEEP_CALLS, _BOOLS
        self._before = (_KEEP_CALLS, _BOOLS)
        _KEEP_CALLS, _BOOLS = True, {}
        self.bools = _BOOLS
        return self

    def __exit__(self, *exc):
        global _KEEP_CALLS, _BOOLS
        _KEEP_CALLS, _BOOLS = self._before
        return False


def _constant(data):
    """``data`` as a Tensor without a graph."""
    Tensor = _TENSOR[0] if _TENSOR else _load_tensor()
    return Tensor._make(data if isinstance(data, np.ndarray) else np.asarray(data))


def note_bool(array, ufunc, operands):
    """Inside ``keep_calls()``: remember that ``array`` (a comparison's bool result, or one
    cast to numbers: ``ufunc`` is then ``np.ndarray.astype``) is ``ufunc(*operands)``
    (operands: Tensors or Python scalars). A no-op otherwise."""
    if _KEEP_CALLS:
        _BOOLS[id(array)] = (array, ufunc, operands)


def _load_tensor():
    """The Tensor class, imported on first use (tensor.py imports this module)."""
    from svertka.tensor import Tensor
    _TENSOR.append(Tensor)
    return Tensor


def _record_versions(ctx, tensors, arrays, out, result, Tensor):
    """Remember the versions of the saved arrays that are an input's or the output's data,
    and which they are (``ctx._saved_roles``: the input's index, -1 for the output, ``None``
    for anything else), so that a create_graph backward can link them to the graph."""
    versions = []
    roles = []
    for s in ctx._saved:
        if s is out:
            v = result._version
            versions.append((v, v[0]))
            roles.append(-1)
            continue
        role = None
        if s is not None:
            i = 0
            for a in arrays:
                if s is a:
                    role = i
                    t = tensors[i]
                    if isinstance(t, Tensor):
                        v = t._version
                        versions.append((v, v[0]))
                    break
                i += 1
        roles.append(role)
    if versions:
        ctx._saved_versions = versions
    ctx._saved_roles = roles


def check_saved_versions(ctx):
    """Raise if an array saved by ``ctx`` was modified in place after the forward pass."""
    if ctx._saved_versions is None:
        return
    for counter, seen in ctx._saved_versions:
        if counter[0] != seen:
            raise RuntimeError(
                f"backward: one of the variables needed for gradient computation has been "
                f"modified by an inplace operation: it is at version {counter[0]}; expected "
                f"version {seen} instead (in {ctx.name()}). Use an out-of-place operation, or "
                f"clone() the tensor before modifying it.")
