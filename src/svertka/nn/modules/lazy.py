"""Lazy layers: `LazyLinear`, `LazyConv*d`, `LazyConvTranspose*d`, `LazyBatchNorm*d`.

A lazy layer is built without its input size (``in_features``, ``in_channels`` or
``num_features``); its parameters are ``UninitializedParameter`` placeholders until the first
call, which reads the size from the input, creates the parameters exactly as the eager layer
would (same initialisation, same random draws), and turns the module into the eager class
(torch's ``cls_to_become``). The placeholder objects are kept and filled in, so references to
them (and hooks on the module) stay valid.
"""

from __future__ import annotations

import numpy as np

from svertka import _dtype
from svertka import random as _random
from svertka.nn.modules.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from svertka.nn.modules.linear import Linear
from svertka.nn.modules.module import _HOOK_DICTS, Module, _as_array
from svertka.nn.modules.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d
from svertka.nn.parameter import Parameter
from svertka.tensor import Tensor

_UNINIT_MSG = ("Can't access the shape of an uninitialized parameter or buffer. This error "
               "usually happens in `load_state_dict` when trying to load an uninitialized "
               "parameter into an initialized one. Call `forward` to initialize the parameters "
               "before accessing their attributes.")


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (of a lazy layer before its first call).

    Its shape cannot be read; ``materialize(shape)`` gives it storage and turns it into a
    ``Parameter``. Optimizers refuse it (see ``svertka.optim.Optimizer``).
    """

    __slots__ = ()

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(np.empty((0,), dtype=_dtype.to_np(dtype) if dtype is not None
                                  else _dtype.to_np(_dtype.get_default_dtype())),
                         requires_grad=requires_grad)

    @property
    def shape(self):
        raise RuntimeError(_UNINIT_MSG)

    def size(self, dim=None):
        raise RuntimeError(_UNINIT_MSG)

    def numel(self):
        raise RuntimeError(_UNINIT_MSG)

    def materialize(self, shape, device=None, dtype=None):
        """Give the parameter uninitialised storage of ``shape`` and make it a Parameter."""
        dt = self._data.dtype if dtype is None else _dtype.to_np(dtype)
        self._data = np.empty(tuple(shape), dtype=dt)
        self.__class__ = Parameter

    def __repr__(self):
        return "<UninitializedParameter>"

    __str__ = __repr__


class UninitializedBuffer(Tensor):
    """A buffer whose shape is not known yet (a lazy batch norm's running statistics)."""

    __slots__ = ()

    def __init__(self, requires_grad=False, device=None, dtype=None):
        super().__init__(np.empty((0,), dtype=_dtype.to_np(dtype) if dtype is not None
                                  else _dtype.to_np(_dtype.get_default_dtype())))

    @property
    def shape(self):
        raise RuntimeError(_UNINIT_MSG)

    def __repr__(self):
        return "<UninitializedBuffer>"

    __str__ = __repr__


_KEEP = frozenset(("_parameters", "_buffers", "_modules", "training",
                   "_non_persistent_buffers_set", "_lazy_args", "_lazy_kwargs")) | set(_HOOK_DICTS)


class LazyModuleMixin:
    """The shared machinery of the lazy layers (torch's ``nn.modules.lazy.LazyModuleMixin``).

    A subclass sets ``cls_to_become`` (the eager class), ``_lazy_params`` and
    ``_lazy_buffers`` (the placeholder names), and ``_in_size(input)`` (the input size the
    eager constructor takes first) and ``_in_size_from_state(name, shape)``.
    """

    cls_to_become = None
    _lazy_params = ("weight", "bias")
    _lazy_buffers = ()

    def _lazy_setup(self, args, kwargs, bias=True):
        Module.__init__(self)
        object.__setattr__(self, "_lazy_args", args)
        object.__setattr__(self, "_lazy_kwargs", kwargs)
        # the constructor's checks run now, on a probe that leaves the random stream as it was
        rng = _random.get_rng()
        state = rng.bit_generator.state
        try:
            self._build(self._probe_size())
        finally:
            rng.bit_generator.state = state
        dtype = kwargs.get("dtype")
        for name in self._lazy_params:
            if name == "bias" and not bias:
                self.register_parameter("bias", None)
            else:
                self.register_parameter(name, UninitializedParameter(dtype=dtype))
        for name in self._lazy_buffers:
            self.register_buffer(name, UninitializedBuffer(dtype=dtype))

    def _probe_size(self):
        return 1

    def _build(self, n):
        """The eager layer for input size ``n``, with this module's arguments."""
        kwargs = dict(self._lazy_kwargs)
        for p in self._parameters.values():
            if isinstance(p, UninitializedParameter) and kwargs.get("dtype") is None:
                kwargs["dtype"] = _dtype.to_dtype(p._data.dtype)
                break
        return self.cls_to_become(n, *self._lazy_args, **kwargs)

    def has_uninitialized_params(self):
        """Whether some parameter or buffer is still a placeholder."""
        return any(isinstance(t, (UninitializedParameter, UninitializedBuffer))
                   for t in (*self._parameters.values(), *self._buffers.values()))

    def initialize_parameters(self, input):
        """Create the parameters for ``input`` and become ``cls_to_become``."""
        self._initialize(self._in_size(input))

    def _initialize(self, n):
        eager = self._build(n)
        for name, p in self._parameters.items():
            if isinstance(p, UninitializedParameter):
                new = eager._parameters[name]
                p.materialize(new._data.shape, dtype=new._data.dtype)
                p._data = new._data
        for name in self._buffers:
            self._buffers[name] = eager._buffers[name]
        for key, value in eager.__dict__.items():
            if key not in _KEEP:
                object.__setattr__(self, key, value)
        for key in ("_lazy_args", "_lazy_kwargs", "_lazy_params", "_lazy_buffers"):
            self.__dict__.pop(key, None)
        self.__class__ = self.cls_to_become

    def _lazy_load(self, state_dict, prefix):
        """Before ``load_state_dict``: take the input size from the loaded tensors."""
        if not self.has_uninitialized_params():
            return
        for name in (*self._lazy_params, *self._lazy_buffers):
            key = prefix + name
            if key in state_dict:
                n = self._in_size_from_state(name, _as_array(state_dict[key]).shape)
                if n is not None:
                    self._initialize(n)
                    return

    def __call__(self, *args, **kwargs):
        if self.has_uninitialized_params():
            if not args or not isinstance(args[0], Tensor):
                raise TypeError(f"{type(self).__name__}: the first call needs a Tensor input "
                                f"to infer the parameters' shapes")
            self.initialize_parameters(args[0])
        return Module.__call__(self, *args, **kwargs)

    _labels = ()

    def extra_repr(self):
        """The constructor's arguments, as the eager layer would show them once built."""
        items = list(zip(self._labels, self._lazy_args)) + [
            (k, v) for k, v in self._lazy_kwargs.items() if v is not None]
        return ", ".join(f"{k}={v!r}" for k, v in items)


class LazyLinear(LazyModuleMixin, Linear):
    """A ``Linear`` whose ``in_features`` is inferred from the last dimension of the first
    input; see ``svertka.nn.modules.lazy``.

    Args:
        out_features: size of each output sample.
        bias: whether to learn an additive bias (default True).

    Examples::

        >>> import svertka
        >>> m = svertka.nn.LazyLinear(2)
        >>> m(svertka.ones(4, 5)).shape
        svertka.Size([4, 2])
        >>> m
        Linear(in_features=5, out_features=2, bias=True)
    """

    cls_to_become = Linear
    _labels = ("out_features",)

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        self._lazy_setup((out_features,), {"bias": bias, "device": device, "dtype": dtype},
                         bias)

    def _in_size(self, input):
        if input.ndim < 1:
            raise ValueError(f"{type(self).__name__}: input must have at least 1 dimension, "
                             f"got a 0-d tensor")
        return input._data.shape[-1]

    def _in_size_from_state(self, name, shape):
        return shape[-1] if name == "weight" and len(shape) == 2 else None


class _LazyConvMixin(LazyModuleMixin):
    _labels = ("out_channels", "kernel_size", "stride", "padding")

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, *rest, **kwargs):
        names = self._arg_names
        given = dict(zip(names, rest))
        given.update(kwargs)
        bias = given.get("bias", True)
        self._lazy_setup((out_channels, kernel_size, stride, padding), given, bias)

    def _probe_size(self):
        return self._lazy_kwargs.get("groups", 1)

    def _in_size(self, input):
        n = self.cls_to_become._rank
        if input.ndim not in (n + 1, n + 2):
            raise ValueError(f"{type(self).__name__}: expected {n + 1}D (unbatched) or "
                             f"{n + 2}D (batched) input, but got input of size: "
                             f"{tuple(input.shape)}")
        return input._data.shape[1] if input.ndim == n + 2 else input._data.shape[0]

    def _in_size_from_state(self, name, shape):
        if name != "weight" or len(shape) != self.cls_to_become._rank + 2:
            return None
        if self.cls_to_become._transposed:
            return shape[0]
        return shape[1] * self._lazy_kwargs.get("groups", 1)


_CONV_NAMES = ("dilation", "groups", "bias", "padding_mode", "device", "dtype")
_CONVT_NAMES = ("output_padding", "groups", "bias", "dilation", "padding_mode", "device",
                "dtype")


def _conv_doc(eager):
    return (f"A ``{eager.__name__}`` whose ``in_channels`` is inferred from the first input "
            f"(``input.shape[1]``, or ``[0]`` unbatched); the other arguments as "
            f"``{eager.__name__}``'s, without ``in_channels``. See ``svertka.nn.modules.lazy``.")


class LazyConv1d(_LazyConvMixin, Conv1d):
    __doc__ = _conv_doc(Conv1d)
    cls_to_become, _arg_names = Conv1d, _CONV_NAMES


class LazyConv2d(_LazyConvMixin, Conv2d):
    __doc__ = _conv_doc(Conv2d) + """

    Examples::

        >>> import svertka
        >>> m = svertka.nn.LazyConv2d(4, 3, padding=1)
        >>> m(svertka.ones(1, 3, 8, 8)).shape
        svertka.Size([1, 4, 8, 8])
        >>> type(m).__name__, m.weight.shape
        ('Conv2d', svertka.Size([4, 3, 3, 3]))
    """
    cls_to_become, _arg_names = Conv2d, _CONV_NAMES


class LazyConv3d(_LazyConvMixin, Conv3d):
    __doc__ = _conv_doc(Conv3d)
    cls_to_become, _arg_names = Conv3d, _CONV_NAMES


class LazyConvTranspose1d(_LazyConvMixin, ConvTranspose1d):
    __doc__ = _conv_doc(ConvTranspose1d)
    cls_to_become, _arg_names = ConvTranspose1d, _CONVT_NAMES


class LazyConvTranspose2d(_LazyConvMixin, ConvTranspose2d):
    __doc__ = _conv_doc(ConvTranspose2d)
    cls_to_become, _arg_names = ConvTranspose2d, _CONVT_NAMES


class LazyConvTranspose3d(_LazyConvMixin, ConvTranspose3d):
    __doc__ = _conv_doc(ConvTranspose3d)
    cls_to_become, _arg_names = ConvTranspose3d, _CONVT_NAMES


class _LazyNormMixin(LazyModuleMixin):
    _lazy_buffers = ("running_mean", "running_var")

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        kwargs = {"eps": eps, "momentum": momentum, "affine": affine,
                  "track_running_stats": track_running_stats, "device": device, "dtype": dtype}
        object.__setattr__(self, "_lazy_params", ("weight", "bias") if affine else ())
        object.__setattr__(self, "_lazy_buffers",
                           ("running_mean", "running_var") if track_running_stats else ())
        self._lazy_setup((), kwargs)
        if not affine:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            probe = self.cls_to_become(1, **{**kwargs, "dtype": None})
            self.register_buffer("num_batches_tracked", probe.num_batches_tracked)
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def _in_size(self, input):
        return input._data.shape[1] if input.ndim > 1 else input._data.shape[0]

    def _in_size_from_state(self, name, shape):
        return shape[0] if len(shape) == 1 else None


def _norm_doc(eager):
    return (f"A ``{eager.__name__}`` whose ``num_features`` is inferred from the first input's "
            f"``shape[1]``; the other arguments as ``{eager.__name__}``'s. See "
            f"``svertka.nn.modules.lazy``.")


class LazyBatchNorm1d(_LazyNormMixin, BatchNorm1d):
    __doc__ = _norm_doc(BatchNorm1d)
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormMixin, BatchNorm2d):
    __doc__ = _norm_doc(BatchNorm2d)
    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNormMixin, BatchNorm3d):
    __doc__ = _norm_doc(BatchNorm3d)
    cls_to_become = BatchNorm3d
