"""Gradient clipping and flattening parameters to one vector, as ``torch.nn.utils``."""

from __future__ import annotations

import numbers
import types
import warnings

import numpy as np

from svertka._validate import error, type_error
from svertka.autograd import grad_mode
from svertka.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def _as_list(parameters, fn):
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        is_generator = isinstance(parameters, types.GeneratorType)
        params = list(parameters)
    except TypeError:
        raise type_error(fn, f"parameters must be a Tensor or an iterable of Tensors, got "
                             f"{type(parameters).__name__}") from None
    for p in params:
        if not isinstance(p, Tensor):
            raise type_error(fn, f"parameters must be Tensors, got an element of type "
                                 f"{type(p).__name__}")
    if is_generator and not params:
        warnings.warn(f"{fn}: `parameters` is an empty generator, no gradient clipping will "
                      f"occur.", stacklevel=3)
    return params


def _vector_norm(x, norm_type):
    """torch.linalg.vector_norm of an ndarray, as a 0-d array of x's dtype."""
    if x.size == 0:
        return np.zeros((), dtype=x.dtype)
    a = np.abs(x)
    if norm_type == np.inf:
        return a.max()
    if norm_type == -np.inf:
        return a.min()
    if norm_type == 0:
        return np.asarray(np.count_nonzero(x), dtype=x.dtype)
    if norm_type == 1:
        return a.sum()
    if norm_type == 2:
        return np.sqrt(np.vdot(x.ravel(), x.ravel()))
    return (a**norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    r"""Scale the gradients of ``parameters`` in place so that their total norm is at most
    ``max_norm``.

    The total norm is that of the vector of all gradients together (the norm of the per-tensor
    norms); every gradient is multiplied by ``min(1, max_norm / (total_norm + 1e-6))``.
    Parameters without a gradient are skipped.

    Args:
        parameters (Tensor or iterable of Tensors): the tensors whose ``.grad`` is clipped.
        max_norm (float): maximum norm of the gradients.
        norm_type (float): order of the norm; ``inf`` for the largest absolute value.
            Default: ``2.0``.
        error_if_nonfinite (bool): raise if the total norm is ``nan`` or ``inf``. Default:
            ``False``.
        foreach (bool, optional): accepted for compatibility with torch; ignored.

    Returns:
        Tensor: the total norm of the gradients before clipping (0-d).

    Examples::

        >>> import svertka
        >>> w = svertka.tensor([3.0, 4.0], requires_grad=True)
        >>> w.grad = svertka.tensor([3.0, 4.0])
        >>> svertka.nn.utils.clip_grad_norm_([w], max_norm=1.0)
        tensor(5.)
        >>> w.grad
        tensor([0.6000, 0.8000])
    """
    fn = "clip_grad_norm_"
    params = _as_list(parameters, fn)
    if not isinstance(max_norm, (numbers.Real, Tensor)) or isinstance(max_norm, bool):
        raise type_error(fn, f"max_norm must be a real number, got max_norm={max_norm!r}")
    if not isinstance(norm_type, (numbers.Real, str)) or isinstance(norm_type, bool):
        raise type_error(fn, f"norm_type must be a real number or inf, got "
                             f"norm_type={norm_type!r}")
    try:
        norm_type = float(norm_type)
    except ValueError:
        raise error(fn, f"norm_type must be a real number or 'inf', got "
                        f"norm_type={norm_type!r}") from None
    max_norm = float(max_norm)
    grads = [p.grad for p in params if p.grad is not None]
    with grad_mode.no_grad(), np.errstate(invalid="ignore", over="ignore"):
        # a non-finite norm scales the gradients to nan/inf without warnings, as torch
        if not grads:
            from svertka._creation import tensor

            return tensor(0.0)
        norms = [_vector_norm(g._data, norm_type) for g in grads]
        dtype = np.result_type(*norms)
        total = _vector_norm(np.stack([np.asarray(n, dtype=dtype) for n in norms]), norm_type)
        total = np.asarray(total, dtype=dtype)
        if error_if_nonfinite and not np.isfinite(total):
            raise RuntimeError(
                f"{fn}: the total norm of order {norm_type} for gradients from `parameters` is "
                f"non-finite, so it cannot be clipped. To disable this error and scale the "
                f"gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
        coef = np.minimum(max_norm / (total + 1e-6), 1.0)
        for g in grads:
            g._data *= coef.astype(g._data.dtype)
            g._version[0] += 1
    return Tensor._make(total)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp the gradients of ``parameters`` in place to ``[-clip_value, clip_value]``.

    Args:
        parameters (Tensor or iterable of Tensors): the tensors whose ``.grad`` is clipped.
        clip_value (float): the bound of the gradients' absolute values.
        foreach (bool, optional): accepted for compatibility with torch; ignored.

    Examples::

        >>> import svertka
        >>> w = svertka.zeros(3, requires_grad=True)
        >>> w.grad = svertka.tensor([-2.0, 0.5, 3.0])
        >>> svertka.nn.utils.clip_grad_value_(w, 1.0)
        >>> w.grad
        tensor([-1.0000,  0.5000,  1.0000])
    """
    fn = "clip_grad_value_"
    params = _as_list(parameters, fn)
    if not isinstance(clip_value, (numbers.Real, Tensor)) or isinstance(clip_value, bool):
        raise type_error(fn, f"clip_value must be a real number, got clip_value={clip_value!r}")
    clip_value = float(clip_value)
    for p in params:
        if p.grad is not None:
            g = p.grad._data
            np.clip(g, -clip_value, clip_value, out=g)
            p.grad._version[0] += 1


def parameters_to_vector(parameters):
    """Flatten and concatenate ``parameters`` into one 1-D Tensor (differentiable).

    Args:
        parameters (iterable of Tensors): e.g. ``model.parameters()``.

    Examples::

        >>> import svertka
        >>> a, b = svertka.ones(2, 2), svertka.zeros(3)
        >>> svertka.nn.utils.parameters_to_vector([a, b])
        tensor([1., 1., 1., 1., 0., 0., 0.])
    """
    from svertka._tensor_ops import cat

    params = _as_list(parameters, "parameters_to_vector")
    if not params:
        raise error("parameters_to_vector", "expected at least one parameter, got none")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (in place).

    Unlike torch, which rebinds each ``param.data`` to a view of ``vec``, the values are copied
    into the parameters' own memory, so everything holding a parameter sees the new values.

    Args:
        vec (Tensor): a 1-D tensor with at least as many elements as the parameters together.
        parameters (iterable of Tensors): the tensors to overwrite.

    Examples::

        >>> import svertka
        >>> a, b = svertka.zeros(2, 2), svertka.zeros(3)
        >>> svertka.nn.utils.vector_to_parameters(svertka.arange(7.0), [a, b])
        >>> b
        tensor([4., 5., 6.])
    """
    fn = "vector_to_parameters"
    if not isinstance(vec, Tensor):
        raise type_error(fn, f"expected a Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise error(fn, f"vec must be 1-D, got vec of shape {tuple(vec.shape)}")
    params = _as_list(parameters, fn)
    total = sum(p._data.size for p in params)
    if vec._data.size < total:
        raise error(fn, f"vec has {vec._data.size} elements, the parameters need {total}")
    pointer = 0
    for p in params:
        n = p._data.size
        p._data[...] = vec._data[pointer:pointer + n].reshape(p._data.shape)
        p._version[0] += 1
        pointer += n
