"""`Parameter`: a Tensor that a Module registers as learnable when assigned as an attribute."""

from __future__ import annotations

import numpy as np

from svertka.tensor import Tensor


class Parameter(Tensor):
    """A learnable tensor: ``requires_grad=True`` by default, shares memory with ``data``.

    Assigning a Parameter to a Module attribute registers it, so it appears in
    ``module.parameters()`` and ``module.state_dict()``.

    Examples::

        >>> import svertka
        >>> w = svertka.nn.Parameter(svertka.zeros(2, 3))
        >>> w.requires_grad, w.shape
        (True, svertka.Size([2, 3]))
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        if isinstance(data, Tensor):
            array = data._data
            version = data._version
        else:
            array = np.asarray(data)
            version = [0]
        self._data = array
        self.grad = None
        self._ctx = None
        self._version = version
        self._retains_grad = False
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__


class Buffer(Tensor):
    """Marks a tensor as a buffer when assigned to a Module attribute (torch's ``nn.Buffer``)."""

    __slots__ = ("persistent",)

    def __init__(self, data, *, persistent=True):
        t = data if isinstance(data, Tensor) else Tensor(data)
        self._data = t._data
        self.grad = None
        self._ctx = None
        self._version = t._version
        self._retains_grad = False
        self._requires_grad = False
        self.persistent = persistent
