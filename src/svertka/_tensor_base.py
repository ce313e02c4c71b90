"""`TensorBase`, the part of `svertka.Tensor` that describes its data, and `Size`.

tensor.py's ``Tensor(TensorBase)`` adds the graph-building operations. The split lets the
modules below tensor.py (argument checks, type promotion, the op bodies) recognise a tensor
without importing tensor.py, which imports them: they test ``isinstance(x, TensorBase)``. Only
``Tensor`` (and so ``nn.Parameter``) derives from it, so the test means ``isinstance(x, Tensor)``.
The methods here only read the data and its state (shape, dtype, the conversions to Python and
NumPy); none makes a new tensor except through the Tensor's own ``to``.
"""

from __future__ import annotations

import numpy as np

from svertka import _dtype


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``svertka.Size([2, 3])``."""

    def __repr__(self):
        return f"svertka.Size({list(self)})"

    def numel(self):
        """The number of elements of a tensor of this shape."""
        return int(np.prod(self, dtype=np.int64))


class TensorBase:
    """The base of :class:`svertka.Tensor`: its shape, dtype and conversions.

    The state (``_data``, ``_requires_grad``, ``_ctx``, ``_version``, ...) is declared in
    ``Tensor.__slots__``.
    """

    __slots__ = ()

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    @property
    def shape(self):
        return Size(self._data.shape)

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        """The number of dimensions (``ndim``)."""
        return self._data.ndim

    def numel(self):
        """The number of elements."""
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(self._data.dtype)

    is_cuda = False

    def is_floating_point(self):
        """Whether the dtype is a floating-point type."""
        return self._data.dtype.kind == "f"

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    @property
    def _version_number(self):
        return self._version[0]

    def element_size(self):
        """The size of one element in bytes."""
        return self._data.itemsize

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def numpy(self, *, force=False):
        """The underlying ndarray (shared memory). As in torch, refused while it requires grad."""
        if self._requires_grad and not force:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype, copy=False)

    def tolist(self):
        """The values as (nested) Python lists of numbers; a 0-D tensor gives a number."""
        return self._data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} values is "
                               f"ambiguous")
        return bool(self._data.reshape(()))

    def is_contiguous(self):
        """Whether the data is C-contiguous in memory."""
        return bool(self._data.flags.c_contiguous)

    def type(self, dtype=None):
        """Without ``dtype``, the type's name (``'svertka.float32'``, where torch says
        ``'torch.FloatTensor'``); with it, the tensor cast to ``dtype``.
        """
        if dtype is None:
            return f"svertka.{self.dtype.name}"
        return self.to(dtype)

    def type_as(self, other):
        """This tensor cast to the dtype of ``other``."""
        return self.to(other.dtype)

    def cpu(self):
        """Return self: svertka tensors live on the CPU."""
        return self

    def float(self):
        """This tensor cast to float32."""
        return self.to(_dtype.float32)

    def double(self):
        """This tensor cast to float64."""
        return self.to(_dtype.float64)

    def half(self):
        """This tensor cast to float16."""
        return self.to(_dtype.float16)

    def long(self):
        """This tensor cast to int64."""
        return self.to(_dtype.int64)

    def int(self):
        """This tensor cast to int32."""
        return self.to(_dtype.int32)

    def bool(self):
        """This tensor cast to bool."""
        return self.to(_dtype.bool_)

    @property
    def retains_grad(self):
        return self._retains_grad

    def equal(self, other):
        """Whether ``other`` has the same shape and the same values (a Python bool)."""
        return self.shape == other.shape and bool(np.array_equal(self._data, other._data))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """Whether every element is close to ``other``'s: ``|self - other| <= atol + rtol *
        |other|``.
        """
        return bool(np.allclose(self._data, other._data, rtol, atol, equal_nan))
