"""Making tensors: ``tensor`` and the factories (``zeros``, ``randn``, ``arange``, ...)."""

from __future__ import annotations

import numpy as np

from svertka import _dtype
from svertka._convert import factory_array
from svertka._convert import infer_np_dtype as _infer_np_dtype
from svertka._validate import error, is_int, type_error
from svertka.random import get_rng
from svertka.tensor import Tensor


def tensor(data, dtype=None, requires_grad=False, device=None):
    """Make a tensor from data (copied).

    Python floats give the default dtype (``float32``), ints ``int64``, bools ``bool``; a NumPy
    array keeps its dtype.

    Examples::

        >>> import svertka, numpy as np
        >>> svertka.tensor([1.0, 2.0]).dtype
        svertka.float32
        >>> svertka.tensor(np.zeros(2)).dtype
        svertka.float64
        >>> svertka.tensor([[1, 2]]).shape
        svertka.Size([1, 2])
    """
    _check_device(device, "tensor")
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def as_tensor(data, dtype=None):
    """A tensor of ``data`` that shares memory with it where it can, as ``torch.as_tensor``.

    A NumPy array or Tensor of the requested dtype (any, when ``dtype`` is ``None``) is shared;
    anything else is copied as :func:`tensor` copies it.

    Examples::

        >>> import numpy as np, svertka
        >>> a = np.zeros(2)
        >>> t = svertka.as_tensor(a)
        >>> a[0] = 1.0
        >>> t.tolist()
        [1.0, 0.0]
    """
    if isinstance(data, Tensor) and (dtype is None or data.dtype == _dtype.to_dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == _dtype.to_np(dtype)):
        _dtype.from_numpy_dtype(data.dtype)
        return Tensor._make(data)
    return tensor(data, dtype=dtype)


def from_numpy(array):
    """A tensor sharing memory with the NumPy ``array`` (of its dtype), as ``torch.from_numpy``.

    Examples::

        >>> import numpy as np, svertka
        >>> a = np.arange(3)
        >>> t = svertka.from_numpy(a)
        >>> a[0] = 7
        >>> t
        tensor([7, 1, 2])
    """
    if not isinstance(array, np.ndarray):
        raise type_error("from_numpy", f"expected np.ndarray, got {type(array).__name__}")
    _dtype.from_numpy_dtype(array.dtype)
    return Tensor._make(array)


def _check_device(device, fn):
    from svertka._device import check_device

    check_device(device, fn)


def _factory(fn, shape, dtype, requires_grad, device, make):
    t = Tensor._make(factory_array(fn, shape, dtype, device, make))
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, requires_grad=False, device=None):
    """A tensor of the given shape filled with zeros, as ``torch.zeros``.

    Args:
        *size (int...): the shape: ints, or one tuple or list of ints.
        dtype (svertka.dtype, optional): the element type. Default: the default dtype
            (``svertka.get_default_dtype()``, float32).
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.zeros(2, 3)
        tensor([[0., 0., 0.],
                [0., 0., 0.]])
        >>> svertka.zeros((2,), dtype=svertka.int64)
        tensor([0, 0])
    """
    return _factory("zeros", size, dtype, requires_grad, device, np.zeros)


def ones(*size, dtype=None, requires_grad=False, device=None):
    """A tensor of the given shape filled with ones, as ``torch.ones``.

    Args:
        *size (int...): the shape: ints, or one tuple or list of ints.
        dtype (svertka.dtype, optional): the element type. Default: the default dtype
            (``svertka.get_default_dtype()``, float32).
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.ones(2, 2)
        tensor([[1., 1.],
                [1., 1.]])
        >>> svertka.ones(2, dtype=svertka.int64)
        tensor([1, 1])
    """
    return _factory("ones", size, dtype, requires_grad, device, np.ones)


def empty(*size, dtype=None, requires_grad=False, device=None):
    """A tensor of the given shape whose values are not initialised, as ``torch.empty``.

    Args:
        *size (int...): the shape: ints, or one tuple or list of ints.
        dtype (svertka.dtype, optional): the element type. Default: the default dtype
            (``svertka.get_default_dtype()``, float32).
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.empty(2, 3).shape
        svertka.Size([2, 3])
    """
    return _factory("empty", size, dtype, requires_grad, device, np.empty)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    """A tensor of shape ``size`` filled with ``fill_value``, as ``torch.full``.

    Args:
        size (tuple of ints): the shape.
        fill_value (number): the value of every element.
        dtype (svertka.dtype, optional): the element type. Default: inferred from ``fill_value``
            (a float gives the default dtype, an int ``int64``, a bool ``bool``).
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.full((2, 2), 7)
        tensor([[7, 7],
                [7, 7]])
        >>> svertka.full((3,), 0.5)
        tensor([0.5000, 0.5000, 0.5000])
    """
    if dtype is None:
        dtype = _infer_np_dtype(fill_value)
    return _factory("full", (tuple(size),), dtype, requires_grad, device,
                    lambda s, d: np.full(s, fill_value, dtype=d))


def _random(fn, size, dtype, requires_grad, device, draw):
    def make(shape, np_dt):
        if np_dt.kind != "f":
            raise error(fn, f"dtype must be floating point, got dtype={dtype}")
        if np_dt in (np.float32, np.float64):
            return draw(shape, np_dt)
        return draw(shape, np.float64).astype(np_dt)
    return _factory(fn, size, dtype, requires_grad, device, make)


def randn(*size, dtype=None, requires_grad=False, device=None, generator=None):
    """Samples of the standard normal distribution ``N(0, 1)``, as ``torch.randn``.

    Args:
        *size (int...): the shape: ints, or one tuple or list of ints.
        dtype (svertka.dtype, optional): a floating-point type. Default: the default dtype.
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.
        generator (numpy.random.Generator, optional): draw from it instead of the global
            generator.

    The draws come from NumPy's generator (seeded by ``svertka.manual_seed``), so a seed gives
    other numbers than in torch.

    Examples::

        >>> import svertka
        >>> svertka.randn(2, 3).shape
        svertka.Size([2, 3])
    """
    rng = generator or get_rng()
    return _random("randn", size, dtype, requires_grad, device,
                   lambda s, d: rng.standard_normal(s, dtype=d))


def rand(*size, dtype=None, requires_grad=False, device=None, generator=None):
    """Samples of the uniform distribution on ``[0, 1)``, as ``torch.rand``.

    Args:
        *size (int...): the shape: ints, or one tuple or list of ints.
        dtype (svertka.dtype, optional): a floating-point type. Default: the default dtype.
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.
        generator (numpy.random.Generator, optional): draw from it instead of the global
            generator.

    The draws come from NumPy's generator (seeded by ``svertka.manual_seed``), so a seed gives
    other numbers than in torch.

    Examples::

        >>> import svertka
        >>> x = svertka.rand(1000)
        >>> bool(((x >= 0) & (x < 1)).all())
        True
    """
    rng = generator or get_rng()
    return _random("rand", size, dtype, requires_grad, device,
                   lambda s, d: rng.random(s, dtype=d))


def randint(low, high=None, size=None, dtype=None, generator=None, device=None):
    """Integers drawn uniformly from ``[low, high)``, as ``torch.randint``; ``randint(high, size)``
    takes ``low = 0``.

    Args:
        low (int): the smallest value. Default: 0.
        high (int): the bound, not included.
        size (tuple of ints): the shape.
        dtype (svertka.dtype, optional): the element type. Default: ``int64``.
        generator (numpy.random.Generator, optional): draw from it instead of the global
            generator.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> x = svertka.randint(3, 10, (2, 4))
        >>> x.shape, x.dtype
        (svertka.Size([2, 4]), svertka.int64)
        >>> bool(((x >= 3) & (x < 10)).all())
        True
    """
    if size is None:
        low, high, size = 0, low, high
    if high is None or size is None:
        raise error("randint", "expected randint(low=0, high, size)")
    rng = generator or get_rng()
    np_dt = _dtype.to_np(dtype) or np.dtype(np.int64)
    return _factory("randint", (tuple(size),), np_dt, False, device,
                    lambda s, d: rng.integers(low, high, s).astype(d))


def randperm(n, dtype=None, generator=None, device=None):
    """A random permutation of ``0, ..., n - 1`` from the global generator, as ``torch.randperm``.

    Args:
        n (int): the number of elements.
        dtype (svertka.dtype, optional): the element type. Default: ``int64``.
        generator (numpy.random.Generator, optional): draw from it instead of the global generator.
        device: ``None`` or ``'cpu'``.

    The draws come from NumPy's generator, so a seed gives other permutations than in torch.

    Examples::

        >>> import svertka
        >>> sorted(svertka.randperm(4).tolist())
        [0, 1, 2, 3]
    """
    rng = generator or get_rng()
    np_dt = _dtype.to_np(dtype) or np.dtype(np.int64)
    _check_device(device, "randperm")
    return Tensor._make(rng.permutation(n).astype(np_dt))


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """Values from ``start`` to ``end`` (exclusive) by ``step``, as ``torch.arange``.

    Args:
        start (number): the first value (the end, with ``start`` 0, when ``end`` is omitted).
        end (number, optional): the bound, not included.
        step (number): the spacing, non-zero. Default: 1.
        dtype (svertka.dtype, optional): the element type. Default: ``int64`` when every
            argument is an int, else the default dtype.
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.arange(5)
        tensor([0, 1, 2, 3, 4])
        >>> svertka.arange(1, 2.5, 0.5)
        tensor([1.0000, 1.5000, 2.0000])
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise error("arange", "step must be nonzero, got step=0")
    if (end - start) * step < 0:
        raise error("arange", f"upper bound and lower bound inconsistent with step sign, got "
                              f"start={start}, end={end}, step={step}")
    args = (start, end, step)
    if dtype is None:
        dtype = np.int64 if all(is_int(a) for a in args) else _dtype.get_default_dtype().np
    _check_device(device, "arange")
    np_dt = _dtype.to_np(dtype)
    # computed in float64 and cast, like torch, so a float32 arange has the right length
    n = max(int(np.ceil((end - start) / step)), 0)
    t = Tensor._make((start + step * np.arange(n, dtype=np.float64)).astype(np_dt)
                     if np_dt.kind == "f" else np.arange(start, end, step, dtype=np_dt))
    if requires_grad:
        t.requires_grad_(True)
    return t


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """``steps`` values evenly spaced from ``start`` to ``end`` inclusive, as ``torch.linspace``.

    Args:
        start (float): the first value.
        end (float): the last value.
        steps (int): the number of values.
        dtype (svertka.dtype, optional): the element type. Default: the default dtype
            (``svertka.get_default_dtype()``, float32).
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.linspace(0, 1, 5)
        tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    _check_device(device, "linspace")
    np_dt = _dtype.to_np(dtype) or _dtype.get_default_dtype().np
    t = Tensor._make(np.linspace(start, end, steps).astype(np_dt))
    if requires_grad:
        t.requires_grad_(True)
    return t


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    """A 2-D tensor with ones on the diagonal and zeros elsewhere, as ``torch.eye``.

    Args:
        n (int): the number of rows.
        m (int, optional): the number of columns. Default: ``n``.
        dtype (svertka.dtype, optional): the element type. Default: the default dtype
            (``svertka.get_default_dtype()``, float32).
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.eye(2, 3)
        tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    _check_device(device, "eye")
    np_dt = _dtype.to_np(dtype) or _dtype.get_default_dtype().np
    t = Tensor._make(np.eye(n, m, dtype=np_dt))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _like(fn, input, dtype, requires_grad, make):
    np_dt = _dtype.to_np(dtype) or input._data.dtype
    t = Tensor._make(make(input._data.shape, np_dt))
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros_like(input, dtype=None, requires_grad=False, device=None):
    """Zeros in the shape of ``input``, as ``torch.zeros_like``.

    Args:
        input (Tensor): the tensor whose shape (and, unless ``dtype`` is given, dtype) to take.
        dtype (svertka.dtype, optional): the element type. Default: ``input.dtype``.
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.zeros_like(svertka.ones(2, dtype=svertka.int64))
        tensor([0, 0])
    """
    return _like("zeros_like", input, dtype, requires_grad, np.zeros)


def ones_like(input, dtype=None, requires_grad=False, device=None):
    """Ones in the shape of ``input``, as ``torch.ones_like``.

    Args:
        input (Tensor): the tensor whose shape (and, unless ``dtype`` is given, dtype) to take.
        dtype (svertka.dtype, optional): the element type. Default: ``input.dtype``.
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.ones_like(svertka.zeros(2))
        tensor([1., 1.])
    """
    return _like("ones_like", input, dtype, requires_grad, np.ones)


def empty_like(input, dtype=None, requires_grad=False, device=None):
    """An uninitialised tensor in the shape of ``input``, as ``torch.empty_like``.

    Args:
        input (Tensor): the tensor whose shape (and, unless ``dtype`` is given, dtype) to take.
        dtype (svertka.dtype, optional): the element type. Default: ``input.dtype``.
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.empty_like(svertka.zeros(2, 3)).shape
        svertka.Size([2, 3])
    """
    return _like("empty_like", input, dtype, requires_grad, np.empty)


def full_like(input, fill_value, dtype=None, requires_grad=False, device=None):
    """``fill_value`` in the shape of ``input``, as ``torch.full_like``.

    Args:
        input (Tensor): the tensor whose shape (and, unless ``dtype`` is given, dtype) to take.
        dtype (svertka.dtype, optional): the element type. Default: ``input.dtype``.
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.
        fill_value (number): the value of every element.

    Examples::

        >>> import svertka
        >>> svertka.full_like(svertka.zeros(2), 5)
        tensor([5., 5.])
    """
    return _like("full_like", input, dtype, requires_grad,
                 lambda s, d: np.full(s, fill_value, dtype=d))


def randn_like(input, dtype=None, requires_grad=False, device=None):
    """Standard normal samples in the shape of ``input``, as ``torch.randn_like``.

    Args:
        input (Tensor): the tensor whose shape (and, unless ``dtype`` is given, dtype) to take.
        dtype (svertka.dtype, optional): the element type. Default: ``input.dtype``.
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.randn_like(svertka.zeros(2, 3)).shape
        svertka.Size([2, 3])
    """
    return randn(*input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def rand_like(input, dtype=None, requires_grad=False, device=None):
    """Uniform samples in ``[0, 1)`` in the shape of ``input``, as ``torch.rand_like``.

    Args:
        input (Tensor): the tensor whose shape (and, unless ``dtype`` is given, dtype) to take.
        dtype (svertka.dtype, optional): the element type. Default: ``input.dtype``.
        requires_grad (bool): whether autograd records operations on the result. Default: ``False``.
        device: ``None`` or ``'cpu'``; svertka runs on the CPU only.

    Examples::

        >>> import svertka
        >>> svertka.rand_like(svertka.zeros(2, 3)).shape
        svertka.Size([2, 3])
    """
    return rand(*input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)
