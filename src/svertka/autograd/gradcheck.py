"""`gradcheck`: compare analytic gradients with central finite differences in float64."""

from __future__ import annotations

import numpy as np

from svertka.autograd import grad_mode


def _as_outputs(out):
    from svertka.tensor import Tensor

    if isinstance(out, Tensor):
        return (out,)
    if isinstance(out, (tuple, list)) and all(isinstance(o, Tensor) for o in out):
        return tuple(out)
    raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got "
                    f"{type(out).__name__}")


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check ``fn``'s backward against central finite differences, in float64.

    Every input that requires grad must be a float64 tensor (finite differences in float32 are
    too coarse to mean anything). The outputs are reduced with a fixed random weighting
    ``sum(v * out)``, so one backward pass checks the whole Jacobian-vector product; each input
    element is then perturbed by ``+-eps`` and the numeric directional derivative compared with
    the analytic gradient: ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Args:
        fn: a function of Tensors returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of Tensors (and other arguments passed through unchanged).
        eps: the finite-difference step.
        atol, rtol: tolerances of the comparison.
        raise_exception: raise ``RuntimeError`` on a mismatch (default); otherwise return False.

    Returns:
        True when every gradient matches.

    Examples::

        >>> import svertka
        >>> x = svertka.randn(3, 4, dtype=svertka.float64, requires_grad=True)
        >>> svertka.autograd.gradcheck(lambda t: (t.exp() * t).sum(dim=1), (x,))
        True
    """
    from svertka.autograd.engine import run_backward
    from svertka.tensor import Tensor

    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("gradcheck: at least one input must be a Tensor with requires_grad=True")
    for i in diff:
        if inputs[i]._data.dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 "
                             f"inputs (finite differences in single precision are unreliable)")

    rng = np.random.default_rng(seed)
    outs = _as_outputs(fn(*inputs))
    weights = [rng.standard_normal(o.shape) for o in outs]
    live = [(o, w) for o, w in zip(outs, weights) if o.requires_grad]
    if not live:
        raise ValueError("gradcheck: no output of fn requires grad")
    # the engine itself (as autograd.grad does), so that this module does not import its own
    # package back; copies, since the inputs are perturbed in place below
    analytic = [None if g is None else np.array(g, dtype=np.float64, copy=True)
                for g in run_backward([o for o, _ in live],
                                      [w.astype(o._data.dtype) for o, w in live],
                                      capture=[inputs[i] for i in diff])]

    def objective():
        with grad_mode.no_grad():
            res = _as_outputs(fn(*inputs))
        return sum(float(np.sum(r._data.astype(np.float64) * w)) for r, w in zip(res, weights))

    for k, i in enumerate(diff):
        x = inputs[i]._data
        flat = x.reshape(-1)  # a view: x is perturbed in place and restored
        if not np.shares_memory(flat, x):
            raise ValueError(f"gradcheck: input {i} must be contiguous")
        numeric = np.empty(flat.shape, dtype=np.float64)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            f_plus = objective()
            flat[j] = orig - eps
            f_minus = objective()
            flat[j] = orig
            numeric[j] = (f_plus - f_minus) / (2 * eps)
        a = np.zeros(flat.shape) if analytic[k] is None else analytic[k].reshape(-1)
        bad = np.abs(a - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            j = int(np.argmax(bad))
            msg = (f"gradcheck: Jacobian mismatch for input {i} at flat index {j}: analytic "
                   f"{a[j]:.10g}, numeric {numeric[j]:.10g} ({int(bad.sum())} of {flat.size} "
                   f"elements differ beyond atol={atol:g}, rtol={rtol:g})")
            if raise_exception:
                raise RuntimeError(msg)
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, seed=0):
    """Check second derivatives: ``gradcheck`` of the first gradients, as torch does.

    The function checked is ``(inputs, grad_outputs) -> autograd.grad(func(inputs), inputs,
    grad_outputs, create_graph=True)``: its backward is the double backward of ``func``, and
    its derivative with respect to ``grad_outputs`` is ``func``'s Jacobian. ``grad_outputs``
    (one per output of ``func``) are drawn at random (float64, seeded) when omitted.

    Beyond torch: svertka's ops compute first gradients twice, in NumPy (``backward``) and
    recorded as a graph (``backward_graph``, used with ``create_graph=True``), so the recorded
    first gradients are first compared with the NumPy ones (same tolerances).

    Args:
        func: a function of Tensors returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of Tensors (float64 where they require grad).
        grad_outputs: the upstream gradients, or ``None`` for random ones.
        eps, atol, rtol, raise_exception, seed: as in :func:`gradcheck`.
        gen_non_contig_grad_outputs: accepted for torch's signature; svertka's arrays are
            always read through their strides, so contiguity changes nothing.

    Returns:
        True when every second derivative matches.

    Examples::

        >>> import svertka
        >>> x = svertka.randn(3, dtype=svertka.float64, requires_grad=True)
        >>> svertka.autograd.gradgradcheck(lambda t: (t.exp() * t).sum(), (x,))
        True
    """
    from svertka.autograd.gradients import grad
    from svertka.tensor import Tensor

    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("gradgradcheck: at least one input must be a Tensor with "
                         "requires_grad=True")
    outs = _as_outputs(func(*inputs))
    live = [o for o in outs if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = tuple(Tensor._make(rng.standard_normal(o.shape)).requires_grad_(True)
                             for o in live)
    else:
        grad_outputs = _as_outputs(grad_outputs)
        if len(grad_outputs) != len(live):
            raise ValueError(f"gradgradcheck: got {len(grad_outputs)} grad_outputs for "
                             f"{len(live)} differentiable outputs")
    n = len(inputs)

    def first_gradients(*args):
        xs, gos = args[:n], args[n:]
        with grad_mode.enable_grad():  # also inside gradcheck's no_grad evaluations
            res = [o for o in _as_outputs(func(*xs)) if o.requires_grad]
            gs = grad(res, [xs[i] for i in diff], list(gos), create_graph=True,
                      allow_unused=True)
        return tuple(Tensor._make(np.zeros(xs[i]._data.shape)) if g is None else g
                     for i, g in zip(diff, gs))

    # svertka computes first gradients twice: NumPy ``backward`` (first order) and the
    # recorded ``backward_graph`` (create_graph). Both must agree, else a wrong recorded
    # formula would pass the check below (its finite differences differentiate it too).
    recorded = first_gradients(*inputs, *grad_outputs)
    with grad_mode.enable_grad():
        res = [o for o in _as_outputs(func(*inputs)) if o.requires_grad]
        plain = grad(res, [inputs[i] for i in diff], [g.detach() for g in grad_outputs],
                     allow_unused=True)
    for i, a, b in zip(diff, recorded, plain):
        b = np.zeros(a.shape) if b is None else b._data
        bad = np.abs(a._data - b) > atol + rtol * np.abs(b)
        if bad.any():
            j = int(np.argmax(bad.reshape(-1)))
            msg = (f"gradgradcheck: the recorded backward (create_graph=True) disagrees with "
                   f"the first-order backward for input {i} at flat index {j}: "
                   f"{a._data.reshape(-1)[j]:.10g} vs {b.reshape(-1)[j]:.10g}")
            if raise_exception:
                raise RuntimeError(msg)
            return False
    return gradcheck(first_gradients, inputs + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception, seed=seed)
