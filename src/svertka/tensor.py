"""`Tensor`: an ndarray, its gradient, and the link to the Function that made it."""

from __future__ import annotations

import numbers
import weakref

import numpy as np

from svertka import _dtype
from svertka._validate import check_dim, error, is_int, type_error
from svertka.autograd import grad_mode
from svertka.ops import elementwise as E
from svertka.ops import matmul as M
from svertka.ops import movement as V
from svertka.ops import reduce as R


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``svertka.Size([2, 3])``."""

    def __repr__(self):
        return f"svertka.Size({list(self)})"

    def numel(self):
        return int(np.prod(self, dtype=np.int64))


def _category(np_dtype):
    return {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}[np_dtype.kind]


def result_dtype(a, b):
    """torch's type promotion for two operands (Tensors or Python scalars).

    Python scalars and 0-d tensors do not widen a dimensioned tensor of the same category:
    ``float32 tensor * 2.0`` and ``float32 tensor + float64 0-d tensor`` stay float32, while an
    int tensor times a Python float becomes the default float dtype.
    """
    def info(x):
        if isinstance(x, Tensor):
            return x._data.dtype, (1 if x._data.ndim else 0)
        if isinstance(x, bool):
            return np.dtype(np.bool_), -1
        if isinstance(x, numbers.Integral):
            return np.dtype(np.int64), -1
        if isinstance(x, numbers.Real):
            return _dtype.get_default_dtype().np, -1
        raise type_error("svertka", f"unsupported operand type {type(x).__name__}")

    (da, pa), (db, pb) = info(a), info(b)
    ca, cb = _category(da), _category(db)
    if pa == pb:
        if ca != cb:  # e.g. int64 tensor + float32 tensor -> float32 (numpy would say float64)
            return da if ca > cb else db
        return np.result_type(da, db)
    (dh, _), (dl, pl) = ((da, pa), (db, pb)) if pa > pb else ((db, pb), (da, pa))
    if _category(dl) > _category(dh):
        return dl  # a scalar of a higher category decides (Python floats: the default dtype)
    return dh


def _operand(x, np_dtype):
    """The array for an operand, cast to the promoted dtype (differentiably for tensors)."""
    if isinstance(x, Tensor):
        return x if x._data.dtype == np_dtype else x.to(np_dtype)
    # astype, not asarray(dtype=): an int that does not fit wraps around, as in torch
    # (uint8 tensor + -3), where NumPy 2 would raise OverflowError
    return np.asarray(x).astype(np_dtype)[()]


def _check_broadcast(name, *operands):
    """Raise the project's ValueError, naming the op and the shapes, unless they broadcast."""
    shapes = [tuple(np.shape(x._data if isinstance(x, Tensor) else x)) for x in operands]
    if len(shapes) == 2 and (shapes[0] == shapes[1] or not shapes[0] or not shapes[1]):
        return  # the common cases, without the cost of broadcast_shapes
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        listed = ", ".join(str(s) for s in shapes[:-1]) + f" and {shapes[-1]}"
        raise error(name, f"shapes {listed} do not broadcast") from None


def _binary(fn, a, b, name):
    if not isinstance(b, (Tensor, numbers.Number, np.number)):
        if isinstance(b, np.ndarray):
            b = Tensor._make(b)
        else:
            return NotImplemented
    _check_broadcast(name, a, b)
    dt = result_dtype(a, b)
    return fn.apply(_operand(a, dt), _operand(b, dt))


def _float_binary(fn, a, b, name):
    if not isinstance(b, (Tensor, numbers.Number, np.number)):
        if isinstance(b, np.ndarray):
            b = Tensor._make(b)
        else:
            return NotImplemented
    _check_broadcast(name, a, b)
    dt = result_dtype(a, b)
    if dt.kind not in "fc":
        dt = _dtype.get_default_dtype().np
    return fn.apply(_operand(a, dt), _operand(b, dt))


def _dims(dim, ndim, fn):
    """Normalise ``dim`` (None, int or sequence) to None or a sorted tuple of axes."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        axes = tuple(sorted(check_dim(d, ndim, fn) for d in dim))
        if len(set(axes)) != len(axes):
            raise error(fn, f"dim {tuple(dim)} appears multiple times in the list of dims")
    else:
        axes = (check_dim(dim, ndim, fn),)
    # a 0-d tensor accepts dim 0 or -1 (as torch): that reduces its one element
    return axes if axes and ndim else None


def _shape_args(shape, fn):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        shape = tuple(shape[0])
    if not all(is_int(s) for s in shape):
        raise type_error(fn, f"shape must be ints, got {shape}")
    return tuple(int(s) for s in shape)


class _MinMaxResult(tuple):
    """``(values, indices)`` of ``max(dim)``/``min(dim)``, also by name as in torch."""

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])


class Tensor:
    """A multi-dimensional array that can record operations for automatic differentiation.

    Make tensors with :func:`svertka.tensor` or the factories (``zeros``, ``randn``, ...).

    Examples::

        >>> import svertka
        >>> x = svertka.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([[2., 4.],
                [6., 8.]])
    """

    __slots__ = ("_data", "grad", "_requires_grad", "_ctx", "_version", "_retains_grad",
                 "__weakref__")
    __array_priority__ = 1000  # ndarray + Tensor -> Tensor.__radd__

    def __init__(self, data, dtype=None, requires_grad=False):
        from svertka._creation import _to_array

        self._data = _to_array(data, dtype)
        self.grad = None
        self._ctx = None
        self._version = [0]
        self._retains_grad = False
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, array):
        """Wrap an ndarray without copying; no gradient tracking."""
        t = cls.__new__(cls)
        t._data = array
        t.grad = None
        t._requires_grad = False
        t._ctx = None
        t._version = [0]
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        if self._ctx is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_: you can only change requires_grad flags of leaf tensors. "
                "Use .detach() to get a tensor that does not require grad.")
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"requires_grad_: only tensors of floating point dtype can require gradients, "
                f"got dtype={self.dtype}")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def data(self):
        """A tensor sharing this one's memory, detached from the graph (torch's ``.data``)."""
        return self.detach()

    @data.setter
    def data(self, value):
        value = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._data = value

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[check_dim(dim, self.ndim, "size")]

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        from svertka._device import device

        return device("cpu")

    is_cuda = False

    def cuda(self, *args, **kwargs):
        raise error("cuda", "svertka runs on the CPU only (svertka.cuda.is_available() is "
                            "False); use .to('cpu') or leave tensors where they are")

    def is_floating_point(self):
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
        return self._data.itemsize

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    # ------------------------------------------------------------------ conversion
    def numpy(self, *, force=False):
        """The underlying ndarray (shared memory). As in torch, refused while it requires grad."""
        if self._requires_grad and not force:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype, copy=False)

    def item(self):
        if self._data.size != 1:
            raise error("item", f"a Tensor with {self._data.size} elements cannot be converted "
                                f"to a Python scalar")
        return self._data.reshape(()).item()

    def tolist(self):
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

    def detach(self):
        """A tensor sharing memory (and version counter) with this one, outside the graph."""
        t = Tensor._make(self._data)
        t._version = self._version
        return t

    def detach_(self):
        self._ctx = None
        self._requires_grad = False
        return self

    def clone(self):
        return E.Clone.apply(self)

    def contiguous(self):
        if self._data.flags.c_contiguous:
            return self
        return E.Clone.apply(self, order="C")

    def is_contiguous(self):
        return bool(self._data.flags.c_contiguous)

    def to(self, *args, dtype=None, **kwargs):
        """``to(dtype)``, ``to('cpu')``, ``to(other_tensor)``; a differentiable cast."""
        from svertka._device import check_device, device

        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, device)) or a is None:
                check_device(a, "to")
            else:
                dtype = a
        check_device(kwargs.pop("device", None), "to")
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        if dtype is None:
            return self
        np_dt = _dtype.to_np(dtype)
        if np_dt == self._data.dtype:
            return self
        if self._requires_grad and np_dt.kind in "fc" and grad_mode.is_grad_enabled():
            return E.Cast.apply(self, dtype=np_dt)
        return Tensor._make(self._data.astype(np_dt))

    def type(self, dtype=None):
        if dtype is None:
            return f"svertka.{self.dtype.name}"
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def cpu(self):
        return self

    def float(self):
        return self.to(_dtype.float32)

    def double(self):
        return self.to(_dtype.float64)

    def half(self):
        return self.to(_dtype.float16)

    def long(self):
        return self.to(_dtype.int64)

    def int(self):
        return self.to(_dtype.int32)

    def bool(self):
        return self.to(_dtype.bool_)

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Args:
            gradient: the upstream gradient, shaped like ``self``; may be omitted for a
                single-element tensor (it is then 1).
            retain_graph: keep the saved arrays so that backward can run through the graph
                again (default False: the graph is freed).
        """
        from svertka.autograd.engine import run_backward

        if create_graph:
            raise NotImplementedError(
                "backward: create_graph=True (higher-order gradients) is not supported: "
                "svertka's backward passes are NumPy code, not recorded graphs")
        if not self._requires_grad:
            raise RuntimeError("backward: element 0 of tensors does not require grad and does "
                               "not have a grad_fn")
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs; this "
                    f"tensor has shape {tuple(self.shape)}: pass gradient= (shaped like it)")
            g = np.ones(self._data.shape, dtype=self._data.dtype)
        else:
            g = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
            if g.shape != self._data.shape:
                raise RuntimeError(f"backward: gradient has shape {g.shape}, but the tensor has "
                                   f"shape {self._data.shape}")
            g = g.astype(self._data.dtype, copy=False)
        if inputs is not None:
            raise NotImplementedError("backward: inputs= is not supported; use "
                                      "svertka.autograd.grad(outputs, inputs)")
        run_backward([self], [g], retain_graph=bool(retain_graph))

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor on the next backward."""
        if self._ctx is None:
            return self
        self._retains_grad = True
        self._ctx._retained = weakref.ref(self)
        return None

    @property
    def retains_grad(self):
        return self._retains_grad

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` during backward once ``self.grad`` is complete (leaves only)."""
        from svertka.autograd.engine import register_post_accumulate_grad_hook

        return register_post_accumulate_grad_hook(self, hook)

    # ------------------------------------------------------------------ in-place
    def _check_inplace(self, fn):
        if self._ctx is None and self._requires_grad and grad_mode.is_grad_enabled():
            raise RuntimeError(
                f"{fn}: a leaf tensor that requires grad is being used in an in-place "
                f"operation; wrap it in `with svertka.no_grad():` (as optimizers do) or "
                f"use an out-of-place operation")

    def _set_from(self, result, fn):
        """Make ``self`` hold ``result``: write the values into self's memory, bump the version,
        and (if recording) adopt ``result``'s place in the graph."""
        self._check_inplace(fn)
        if result._data.dtype != self._data.dtype and not np.can_cast(
                result._data.dtype, self._data.dtype, casting="same_kind"):
            raise RuntimeError(f"{fn}: result type {result.dtype} can't be cast to the desired "
                               f"output type {self.dtype}")
        ctx = result._ctx
        if ctx is not None and ctx._saved:
            # The op that made ``result`` may have saved self's old values (``x.mul_(y)`` saves
            # x for y's gradient): keep a copy of those, since self is overwritten below.
            ctx._saved = tuple(np.array(s, copy=True) if isinstance(s, np.ndarray)
                               and np.shares_memory(s, self._data) else s for s in ctx._saved)
            if ctx._saved_versions is not None:
                ctx._saved_versions = [(c, v) for c, v in ctx._saved_versions
                                       if c is not self._version]
        self._data[...] = result._data
        self._version[0] += 1
        if result._ctx is not None:
            self._ctx = result._ctx
            self._requires_grad = True
        return self

    def _inplace(self, fn, op, other):
        """Apply the out-of-place op; outside graph recording, modify the array directly."""
        other_grad = isinstance(other, Tensor) and other._requires_grad
        if not grad_mode.is_grad_enabled() or not (self._requires_grad or other_grad):
            if self._data.flags.writeable is False:
                raise RuntimeError(f"{fn}: the tensor's memory is read-only (an expanded view)")
            b = other._data if isinstance(other, Tensor) else other
            try:
                op(self._data, b, out=self._data, casting="same_kind")
            except (TypeError, np._core._exceptions._UFuncOutputCastingError) as e:
                raise RuntimeError(f"{fn}: {e}") from None
            self._version[0] += 1
            return self
        method = {np.add: "__add__", np.subtract: "__sub__", np.multiply: "__mul__",
                  np.true_divide: "__truediv__"}[op]
        return self._set_from(getattr(self, method)(other), fn)

    def add_(self, other, *, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._inplace("add_", np.add, other)

    def sub_(self, other, *, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._inplace("sub_", np.subtract, other)

    def mul_(self, other):
        return self._inplace("mul_", np.multiply, other)

    def div_(self, other):
        return self._inplace("div_", np.true_divide, other)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def zero_(self):
        return self._fill(0, "zero_")

    def fill_(self, value):
        return self._fill(value, "fill_")

    def _fill(self, value, fn):
        self._check_inplace(fn)
        if isinstance(value, Tensor):
            value = value.item()
        if self._ctx is not None and grad_mode.is_grad_enabled():
            # as torch: the tensor stays in the graph (FillBackward), passing a zero gradient
            return self._set_from(E.Fill.apply(self, value=value), fn)
        self._data[...] = value
        self._version[0] += 1
        return self

    def copy_(self, src):
        if not isinstance(src, Tensor):
            src = Tensor._make(np.asarray(src))
        if grad_mode.is_grad_enabled() and src._requires_grad:
            return self._set_from(src.to(self.dtype).expand(*self.shape).clone(), "copy_")
        self._check_inplace("copy_")
        self._data[...] = src._data
        self._version[0] += 1
        return self

    def clamp_(self, min=None, max=None):
        if grad_mode.is_grad_enabled() and self._requires_grad:
            return self._set_from(self.clamp(min, max), "clamp_")
        np.clip(self._data, min, max, out=self._data)
        self._version[0] += 1
        return self

    def uniform_(self, a=0.0, b=1.0):
        from svertka.random import get_rng

        with grad_mode.no_grad():
            return self.copy_(Tensor._make(get_rng().uniform(a, b, self._data.shape)))

    def normal_(self, mean=0.0, std=1.0):
        from svertka.random import get_rng

        with grad_mode.no_grad():
            return self.copy_(Tensor._make(get_rng().normal(mean, std, self._data.shape)))

    def __setitem__(self, index, value):
        index = _index(index, self)
        if grad_mode.is_grad_enabled() and (
                self._requires_grad or (isinstance(value, Tensor) and value._requires_grad)):
            if not isinstance(value, Tensor):
                value = Tensor._make(np.asarray(value, dtype=self._data.dtype))
            self._set_from(V.IndexPut.apply(self, value.to(self.dtype), index=index),
                           "__setitem__")
            return
        self._data[index] = value._data if isinstance(value, Tensor) else value
        self._version[0] += 1

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return _binary(E.Add, self, other, "add")

    def __radd__(self, other):
        return _binary(E.Add, self, other, "add")

    def __sub__(self, other):
        return _binary(E.Sub, self, other, "sub")

    def __rsub__(self, other):
        r = _binary(E.Sub, self, other, "sub")
        return r if r is NotImplemented else -r

    def __mul__(self, other):
        return _binary(E.Mul, self, other, "mul")

    def __rmul__(self, other):
        return _binary(E.Mul, self, other, "mul")

    def __truediv__(self, other):
        return _float_binary(E.Div, self, other, "div")

    def __rtruediv__(self, other):
        if not isinstance(other, (Tensor, numbers.Number, np.number)):
            return NotImplemented
        _check_broadcast("div", other, self)
        dt = result_dtype(self, other)
        if dt.kind not in "fc":
            dt = _dtype.get_default_dtype().np
        return E.Div.apply(_operand(other, dt), _operand(self, dt))

    def __pow__(self, other):
        return _binary(E.Pow, self, other, "pow")

    def __rpow__(self, other):
        if not isinstance(other, (Tensor, numbers.Number, np.number)):
            return NotImplemented
        _check_broadcast("pow", other, self)
        dt = result_dtype(self, other)
        return E.Pow.apply(_operand(other, dt), _operand(self, dt))

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(Tensor._make(np.asarray(other)), self)

    def __neg__(self):
        return E.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def add(self, other, *, alpha=1):
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, *, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def pow(self, exponent):
        return self ** exponent

    def matmul(self, other):
        return matmul(self, other)

    def neg(self):
        return -self

    # comparisons: no gradient, boolean results
    def _compare(self, other, op, name):
        b = other._data if isinstance(other, Tensor) else other
        _check_broadcast(name, self, b)
        return Tensor._make(np.asarray(op(self._data, b)))

    def __eq__(self, other):
        return self._compare(other, np.equal, "eq")

    def __ne__(self, other):
        return self._compare(other, np.not_equal, "ne")

    def __lt__(self, other):
        return self._compare(other, np.less, "lt")

    def __le__(self, other):
        return self._compare(other, np.less_equal, "le")

    def __gt__(self, other):
        return self._compare(other, np.greater, "gt")

    def __ge__(self, other):
        return self._compare(other, np.greater_equal, "ge")

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def __and__(self, other):
        return self._compare(other, np.logical_and if self._data.dtype == np.bool_
                             else np.bitwise_and, "bitwise_and")

    def __or__(self, other):
        return self._compare(other, np.logical_or if self._data.dtype == np.bool_
                             else np.bitwise_or, "bitwise_or")

    def __xor__(self, other):
        return self._compare(other, np.logical_xor if self._data.dtype == np.bool_
                             else np.bitwise_xor, "bitwise_xor")

    def __invert__(self):
        if self._data.dtype == np.bool_:
            return Tensor._make(np.logical_not(self._data))
        return Tensor._make(np.invert(self._data))

    def logical_not(self):
        return Tensor._make(np.logical_not(self._data))

    def equal(self, other):
        return self.shape == other.shape and bool(np.array_equal(self._data, other._data))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return bool(np.allclose(self._data, other._data, rtol, atol, equal_nan))

    def isnan(self):
        return Tensor._make(np.isnan(self._data))

    def isinf(self):
        return Tensor._make(np.isinf(self._data))

    def isfinite(self):
        return Tensor._make(np.isfinite(self._data))

    def sign(self):
        return E.Sign.apply(self)

    def floor(self):
        return E.Floor.apply(self)

    def ceil(self):
        return E.Ceil.apply(self)

    def round(self):
        return E.Round.apply(self)

    # ------------------------------------------------------------------ unary math
    def _float_unary(self, fn):
        x = self if self._data.dtype.kind in "fc" else self.to(_dtype.get_default_dtype())
        return fn.apply(x)

    def abs(self):
        return E.Abs.apply(self)

    def exp(self):
        return self._float_unary(E.Exp)

    def log(self):
        return self._float_unary(E.Log)

    def sqrt(self):
        return self._float_unary(E.Sqrt)

    def rsqrt(self):
        return 1 / self.sqrt()

    def reciprocal(self):
        return 1 / self

    def square(self):
        return self * self

    def sin(self):
        return self._float_unary(E.Sin)

    def cos(self):
        return self._float_unary(E.Cos)

    def tanh(self):
        return self._float_unary(E.Tanh)

    def sigmoid(self):
        return self._float_unary(E.Sigmoid)

    def relu(self):
        return E.Relu.apply(self)

    def softmax(self, dim):
        """``exp(x) / sum(exp(x))`` along ``dim`` (see ``nn.functional.softmax``)."""
        from svertka.nn.functional import softmax

        return softmax(self, dim)

    def log_softmax(self, dim):
        """``x - logsumexp(x)`` along ``dim`` (see ``nn.functional.log_softmax``)."""
        from svertka.nn.functional import log_softmax

        return log_softmax(self, dim)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise error("clamp", "at least one of min or max must not be None")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self
            if min is not None:
                out = maximum(out, min if isinstance(min, Tensor) else tensor_like(min, self))
            if max is not None:
                out = minimum(out, max if isinstance(max, Tensor) else tensor_like(max, self))
            return out
        dt = self._data.dtype
        for bound in (min, max):  # an int tensor clamped to a float bound becomes float
            if bound is not None:
                dt = result_dtype(Tensor._make(np.empty((1,), dt)), bound)
        x = self.to(dt)
        return E.Clamp.apply(x, min=None if min is None else dt.type(min),
                             max=None if max is None else dt.type(max))

    clip = clamp

    # ------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, *, dtype=None):
        axis = _dims(dim, self.ndim, "sum")
        np_dt = _dtype.to_np(dtype)
        if np_dt is None and self._data.dtype.kind in "bui":
            np_dt = np.dtype(np.int64)  # torch sums integers and bools as int64
        x = self if np_dt is None or np_dt.kind not in "fc" else self.to(np_dt)
        return R.Sum.apply(x, axis=axis, keepdim=keepdim, dtype=np_dt)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind not in "fc":
            raise error("mean", f"could not infer output dtype: input dtype must be floating "
                                f"point, got {x.dtype}")
        return R.Mean.apply(x, axis=_dims(dim, x.ndim, "mean"), keepdim=keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        if isinstance(dim, bool):  # var(unbiased) legacy positional form
            dim, unbiased = None, dim
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        if self._data.dtype.kind not in "fc":
            raise error("var", f"input dtype must be floating point, got {self.dtype}")
        return R.Var.apply(self, axis=_dims(dim, self.ndim, "var"), correction=correction,
                           keepdim=keepdim)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        if isinstance(dim, bool):  # std(unbiased) legacy positional form
            dim, unbiased = None, dim
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        if self._data.dtype.kind not in "fc":
            raise error("std", f"input dtype must be floating point, got {self.dtype}")
        return R.Std.apply(self, axis=_dims(dim, self.ndim, "std"), correction=correction,
                           keepdim=keepdim)

    def prod(self, dim=None, keepdim=False):
        return R.Prod.apply(self, axis=_dims(dim, self.ndim, "prod"), keepdim=keepdim)

    def logsumexp(self, dim, keepdim=False):
        return R.LogSumExp.apply(self, axis=_dims(dim, self.ndim, "logsumexp"),
                                 keepdim=keepdim)

    def _extreme(self, dim, keepdim, which, argfn, name):
        if dim is None:
            if self._data.size == 0:
                raise error(name, "operation does not have an identity: the tensor is empty")
            return R.MaxMin.apply(self, axis=None, keepdim=False, which=which)
        if isinstance(dim, Tensor):  # max(other): elementwise
            return (maximum if which is np.max else minimum)(self, dim)
        axis = check_dim(dim, self.ndim, name)
        if self._data.ndim == 0:
            return _MinMaxResult((self, Tensor._make(np.zeros((), dtype=np.int64))))
        if self._data.shape[axis] == 0:
            raise error(name, f"expected reduction dim {axis} to have non-zero size")
        idx = argfn(self._data, axis=axis)
        values = R.MaxMinDim.apply(self, axis=axis, keepdim=keepdim, indices=idx)
        if keepdim:
            idx = np.expand_dims(idx, axis)
        return _MinMaxResult((values, Tensor._make(idx.astype(np.int64))))

    def max(self, dim=None, keepdim=False):
        return self._extreme(dim, keepdim, np.max, _argmax_first, "max")

    def min(self, dim=None, keepdim=False):
        return self._extreme(dim, keepdim, np.min, _argmin_first, "min")

    def _aextreme(self, dim, keepdim, which, name):
        axis = _dims(dim, self.ndim, name) if dim != () else None
        for d in range(self.ndim) if axis is None else axis:
            if self._data.shape[d] == 0:
                raise error(name, f"expected reduction dim {d} to have non-zero size")
        return R.MaxMin.apply(self, axis=axis, keepdim=keepdim, which=which)

    def amax(self, dim=(), keepdim=False):
        return self._aextreme(dim, keepdim, np.max, "amax")

    def amin(self, dim=(), keepdim=False):
        return self._aextreme(dim, keepdim, np.min, "amin")

    def argmax(self, dim=None, keepdim=False):
        return _arg(self, dim, keepdim, _argmax_first, "argmax")

    def argmin(self, dim=None, keepdim=False):
        return _arg(self, dim, keepdim, _argmin_first, "argmin")

    def all(self, dim=None, keepdim=False):
        return Tensor._make(np.asarray(np.all(self._data, axis=_dims(dim, self.ndim, "all"),
                                              keepdims=keepdim)))

    def any(self, dim=None, keepdim=False):
        return Tensor._make(np.asarray(np.any(self._data, axis=_dims(dim, self.ndim, "any"),
                                              keepdims=keepdim)))

    def norm(self, p=2, dim=None, keepdim=False):
        if p == 2 and self._data.dtype.kind in "fc":
            return R.Norm2.apply(self, axis=_dims(dim, self.ndim, "norm"), keepdim=keepdim)
        if p == 2:
            return (self * self).sum(dim, keepdim).sqrt()
        if p == 1:
            return self.abs().sum(dim, keepdim)
        if p in (float("inf"), "inf"):
            return self.abs().amax(dim if dim is not None else (), keepdim)
        return (self.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    # ------------------------------------------------------------------ movement
    def reshape(self, *shape, _fn="reshape"):
        shape = _shape_args(shape, _fn)
        target = _resolve_shape(shape, self._data.size, _fn)
        return V.Reshape.apply(self, shape=target)

    def view(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, Size)) and not is_int(
                shape[0]):
            return self.to(shape[0])  # view(dtype)
        return self.reshape(*shape, _fn="view")

    def view_as(self, other):
        return self.reshape(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s = check_dim(start_dim, self.ndim, "flatten")
        e = check_dim(end_dim, self.ndim, "flatten")
        if s > e:
            raise error("flatten", f"start_dim cannot come after end_dim, got "
                                   f"start_dim={start_dim}, end_dim={end_dim}")
        shape = self.shape
        new = shape[:s] + (int(np.prod(shape[s:e + 1], dtype=np.int64)),) + shape[e + 1:]
        return self.reshape(new)

    def unflatten(self, dim, sizes):
        d = check_dim(dim, self.ndim, "unflatten")
        shape = self.shape
        sizes = tuple(sizes)
        known = int(np.prod([s for s in sizes if s != -1], dtype=np.int64))
        if sizes.count(-1) == 0 and known != shape[d] or sizes.count(-1) > 1 or (
                sizes.count(-1) == 1 and (known == 0 or shape[d] % known)):
            raise error("unflatten", f"provided sizes {list(sizes)} don't multiply up to the "
                                     f"size of dim {dim} ({shape[d]}) in the input tensor")
        return self.reshape(shape[:d] + sizes + shape[d + 1:])

    def squeeze(self, dim=None):
        if dim is None:
            shape = tuple(s for s in self.shape if s != 1)
        else:
            axes = _dims(dim, self.ndim, "squeeze") or ()
            shape = tuple(s for i, s in enumerate(self.shape) if not (i in axes and s == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim):
        d = check_dim(dim, self.ndim + 1, "unsqueeze")
        shape = self.shape
        return self.reshape(shape[:d] + (1,) + shape[d:])

    def permute(self, *dims):
        dims = _shape_args(dims, "permute")
        if len(dims) != self.ndim:
            raise error("permute", f"number of dims don't match: the tensor has {self.ndim} "
                                   f"dims, got dims={dims}")
        axes = tuple(check_dim(d, self.ndim, "permute") for d in dims)
        if len(set(axes)) != len(axes):
            raise error("permute", f"repeated dim in dims={dims}")
        return V.Permute.apply(self, axes=axes)

    def transpose(self, dim0, dim1):
        if self.ndim == 0:
            return self
        a = check_dim(dim0, self.ndim, "transpose")
        b = check_dim(dim1, self.ndim, "transpose")
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return V.Permute.apply(self, axes=tuple(axes))

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise error("t", f"expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.transpose(0, 1) if self.ndim == 2 else self

    @property
    def T(self):
        return V.Permute.apply(self, axes=tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def expand(self, *sizes):
        sizes = _shape_args(sizes, "expand")
        if len(sizes) < self.ndim:
            raise error("expand", f"the number of sizes provided ({len(sizes)}) must be greater "
                                  f"or equal to the number of dimensions in the tensor "
                                  f"({self.ndim})")
        shape = self.shape
        lead = len(sizes) - self.ndim
        target = []
        for i, s in enumerate(sizes):
            own = shape[i - lead] if i >= lead else None
            if s == -1:
                if own is None:
                    raise error("expand", f"-1 is not allowed in a leading, non-existing "
                                          f"dimension, got sizes={sizes}")
                s = own
            elif own is not None and own != 1 and own != s:
                raise error("expand", f"the expanded size of the tensor ({s}) must match the "
                                      f"existing size ({own}) at non-singleton dimension {i}; "
                                      f"target sizes {list(sizes)}, tensor sizes {list(shape)}")
            target.append(s)
        return V.Expand.apply(self, shape=tuple(target))

    def expand_as(self, other):
        return self.expand(*other.shape)

    def repeat(self, *reps):
        reps = _shape_args(reps, "repeat")
        if len(reps) < self.ndim:
            raise error("repeat", f"number of repeat dims ({len(reps)}) can not be smaller than "
                                  f"the number of dimensions of the tensor ({self.ndim})")
        return V.Repeat.apply(self, reps=reps)

    def flip(self, *dims):
        dims = _shape_args(dims, "flip")
        return V.Flip.apply(self, axes=tuple(check_dim(d, self.ndim, "flip") for d in dims))

    def split(self, split_size_or_sections, dim=0):
        return split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return chunk(self, chunks, dim)

    def narrow(self, dim, start, length):
        d = check_dim(dim, self.ndim, "narrow")
        index = (slice(None),) * d + (slice(start, start + length),)
        return self[index]

    def unbind(self, dim=0):
        d = check_dim(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def __getitem__(self, index):
        index = _index(index, self)
        if V.is_basic_index(index):
            out = V.Getitem.apply(self, index=index)
            out._version = self._version  # a view of self
            return out
        return V.Getitem.apply(self, index=index)

    def where(self, condition, other):
        return where(condition, self, other)

    def masked_fill(self, mask, value):
        return where(mask, tensor_like(value, self), self)

    def maximum(self, other):
        return maximum(self, other)

    def minimum(self, other):
        return minimum(self, other)

    # ------------------------------------------------------------------ more ops
    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The ``k`` largest (or smallest) elements along ``dim``: ``(values, indices)``.

        Args:
            k: how many elements, ``0 <= k <= size of dim``.
            dim: the dimension (default the last).
            largest: the largest (default) or the smallest elements.
            sorted: ignored: the elements always come in sorted order.

        Shape:
            input ``(*, n, *)``, values and indices ``(*, k, *)``; the gradient of the values
            flows back to the picked positions.

        Examples::

            >>> import svertka
            >>> svertka.tensor([1., 5., 3., 4.]).topk(2)
            (tensor([5., 4.]), tensor([1, 3]))
        """
        axis = check_dim(dim, self.ndim, "topk")
        n = self._data.shape[axis] if self.ndim else 1
        if not is_int(k) or not 0 <= k <= n:
            raise error("topk", f"k must be an int in [0, {n}] (the size of dim {axis}), "
                                f"got k={k!r}")
        return _MinMaxResult(_take_sorted(self, _topk_indices(self._data, k, axis, largest),
                                          axis))

    def sort(self, dim=-1, descending=False, stable=False):
        """Sorted values along ``dim`` and their positions: ``(values, indices)``.

        Args:
            dim: the dimension (default the last).
            descending: largest first.
            stable: ignored: the sort is always stable (equal values keep their order).

        NaN sorts as the largest value, as in torch.

        Examples::

            >>> import svertka
            >>> svertka.tensor([3., 1., 2.]).sort(descending=True)
            (tensor([3., 2., 1.]), tensor([0, 2, 1]))
        """
        axis = check_dim(dim, self.ndim, "sort")
        idx = _sort_indices(self._data, axis, descending, "sort")
        return _MinMaxResult(_take_sorted(self, idx, axis))

    def argsort(self, dim=-1, descending=False, stable=False):
        """The indices that sort ``self`` along ``dim`` (``sort(...)[1]``).

        Examples::

            >>> import svertka
            >>> svertka.tensor([3., 1., 2.]).argsort()
            tensor([1, 2, 0])
        """
        axis = check_dim(dim, self.ndim, "argsort")
        return Tensor._make(_sort_indices(self._data, axis, descending, "argsort"))

    def gather(self, dim, index):
        """``out[i][j] = self[i][index[i][j]]`` (``dim=1``), as ``torch.gather``.

        Args:
            dim: the dimension indexed by ``index``.
            index: an int tensor with as many dims as ``self``, no larger than ``self`` in the
                other dims, values in ``[0, self.size(dim))``.

        Shape:
            output: ``index``'s shape.

        Examples::

            >>> import svertka
            >>> x = svertka.tensor([[1., 2.], [3., 4.]])
            >>> x.gather(1, svertka.tensor([[1, 1], [0, 1]]))
            tensor([[2., 2.],
                    [3., 4.]])
        """
        axis, idx = _check_index_along(self, dim, index, "gather")
        from svertka.ops.indexing import Gather

        return Gather.apply(self, index=idx, axis=axis)

    def _scatter(self, dim, index, src, add, fn):
        from svertka.ops.indexing import Scatter

        axis, idx = _check_index_along(self, dim, index, fn)
        if isinstance(src, Tensor):
            if src.ndim != idx.ndim:
                raise error(fn, f"index has {idx.ndim} dimensions, src has {src.ndim}")
            bad = [d for d in range(idx.ndim) if idx.shape[d] > src.shape[d]]
            if bad:
                raise error(fn, f"index {tuple(idx.shape)} is larger than src "
                                f"{tuple(src.shape)} in dimension {bad[0]}")
            src = src.to(self.dtype)
        elif add:
            raise type_error(fn, f"src must be a Tensor, got {type(src).__name__}")
        else:
            src = self._data.dtype.type(src)
        return Scatter.apply(self, src, index=idx, axis=axis, add=add)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        """Out of place ``self[i][index[i][j]] = src[i][j]`` (``dim=1``).

        Args:
            dim, index: as in :meth:`gather`; ``index`` no larger than ``self`` and ``src``.
            src: a tensor or a number (``value=`` also accepted).
            reduce: ``None`` (replace) or ``'add'`` (as :meth:`scatter_add`).

        Duplicate indices: one of the values wins, unspecified (as in torch). Gradients flow to
        ``self`` (except the overwritten places) and to ``src``.

        Examples::

            >>> import svertka
            >>> svertka.zeros(2, 3).scatter(1, svertka.tensor([[2], [0]]), 1.0)
            tensor([[0., 0., 1.],
                    [1., 0., 0.]])
        """
        if src is None:
            src = value
        if reduce not in (None, "add"):
            raise error("scatter", f"reduce must be None or 'add' ('multiply' is not "
                                   f"supported), got reduce={reduce!r}")
        if reduce == "add" and not isinstance(src, Tensor):
            src = self.new_full(tuple(_int_index(index, "scatter").shape), src)
        return self._scatter(dim, index, src, reduce == "add", "scatter")

    def scatter_add(self, dim, index, src):
        """Out of place ``self[i][index[i][j]] += src[i][j]`` (``dim=1``); duplicates add up.

        Examples::

            >>> import svertka
            >>> svertka.zeros(3).scatter_add(0, svertka.tensor([0, 2, 0]), svertka.ones(3))
            tensor([2., 0., 1.])
        """
        return self._scatter(dim, index, src, True, "scatter_add")

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        """In-place :meth:`scatter` (``zeros.scatter_(1, labels[:, None], 1.0)`` one-hot)."""
        return self._set_from(self.scatter(dim, index, src, value=value, reduce=reduce),
                              "scatter_")

    def scatter_add_(self, dim, index, src):
        """In-place :meth:`scatter_add`."""
        return self._set_from(self.scatter_add(dim, index, src), "scatter_add_")

    def index_select(self, dim, index):
        """The slices ``index`` (a 0-D or 1-D int tensor) of ``self`` along ``dim``.

        Examples::

            >>> import svertka
            >>> svertka.arange(6.).reshape(2, 3).index_select(1, svertka.tensor([2, 0]))
            tensor([[2., 0.],
                    [5., 3.]])
        """
        from svertka.ops.indexing import IndexSelect

        axis = check_dim(dim, self.ndim, "index_select")
        idx = _int_index(index, "index_select")
        if idx.ndim > 1:
            raise error("index_select", f"index must be 0-D or 1-D, got index of shape "
                                        f"{tuple(idx.shape)}")
        n = self._data.shape[axis] if self.ndim else 1
        _check_range(idx, n, axis, "index_select")
        if self.ndim == 0:
            return self.reshape(()) if idx.size == 1 else self.reshape(1)[idx.reshape(-1)]
        return IndexSelect.apply(self, index=idx.reshape(-1), axis=axis)

    def masked_fill_(self, mask, value):
        return self._set_from(self.masked_fill(mask, value), "masked_fill_")

    def nonzero(self, *, as_tuple=False):
        """The indices of the non-zero elements: ``(n, ndim)`` int64, or one 1-D tensor per
        dim with ``as_tuple=True``. Not differentiable.

        Examples::

            >>> import svertka
            >>> svertka.tensor([[0, 1], [2, 0]]).nonzero()
            tensor([[0, 1],
                    [1, 0]])
        """
        if as_tuple:
            a = self._data if self.ndim else self._data.reshape(1)
            return tuple(Tensor._make(i.astype(np.int64)) for i in np.nonzero(a))
        return Tensor._make(np.argwhere(self._data).astype(np.int64))

    def cumsum(self, dim, *, dtype=None):
        """Running sum along ``dim`` (integers and bools sum as int64, as in torch).

        Examples::

            >>> import svertka
            >>> svertka.tensor([1., 2., 3.]).cumsum(0)
            tensor([1., 3., 6.])
        """
        from svertka.ops.scan import Cumsum

        axis = check_dim(dim, self.ndim, "cumsum")
        np_dt = _dtype.to_np(dtype)
        if np_dt is None and self._data.dtype.kind in "bui":
            np_dt = np.dtype(np.int64)
        x = self if np_dt is None or np_dt.kind not in "fc" else self.to(np_dt)
        if self.ndim == 0:
            return x.clone()
        return Cumsum.apply(x, axis=axis, dtype=np_dt)

    def cumprod(self, dim, *, dtype=None):
        """Running product along ``dim``; the gradient is exact with zeros in the input.

        Examples::

            >>> import svertka
            >>> svertka.tensor([1., 2., 0., 3.]).cumprod(0)
            tensor([1., 2., 0., 0.])
        """
        from svertka.ops.scan import Cumprod

        axis = check_dim(dim, self.ndim, "cumprod")
        x = self.to(dtype) if dtype is not None else self
        if x._data.dtype.kind in "bui":
            x = x.to(_dtype.int64)
        if self.ndim == 0:
            return x.clone()
        return Cumprod.apply(x, axis=axis)

    def _tri(self, diagonal, upper, fn):
        from svertka.ops.linalg import Tri

        if self.ndim < 2:
            raise error(fn, f"input must have at least 2 dimensions, got shape "
                            f"{tuple(self.shape)}")
        if not is_int(diagonal):
            raise type_error(fn, f"diagonal must be an int, got diagonal={diagonal!r}")
        return Tri.apply(self, diagonal=int(diagonal), upper=upper)

    def tril(self, diagonal=0):
        """The lower triangle of the last two dims (elements with ``col - row <= diagonal``).

        Examples::

            >>> import svertka
            >>> svertka.ones(2, 3).tril()
            tensor([[1., 0., 0.],
                    [1., 1., 0.]])
        """
        return self._tri(diagonal, False, "tril")

    def triu(self, diagonal=0):
        """The upper triangle of the last two dims (``col - row >= diagonal``)."""
        return self._tri(diagonal, True, "triu")

    def mm(self, mat2):
        """Matrix product of 2-D tensors ``(n, m) @ (m, p)`` (no broadcasting).

        Examples::

            >>> import svertka
            >>> svertka.ones(2, 3).mm(svertka.ones(3, 4)).shape
            svertka.Size([2, 4])
        """
        _check_matrices("mm", self, mat2, 2)
        return matmul(self, mat2)

    def bmm(self, mat2):
        """Batched matrix product ``(b, n, m) @ (b, m, p)`` (no broadcasting)."""
        _check_matrices("bmm", self, mat2, 3)
        return matmul(self, mat2)

    def dot(self, other):
        """Inner product of two 1-D tensors of the same size.

        Examples::

            >>> import svertka
            >>> svertka.tensor([1., 2.]).dot(svertka.tensor([3., 4.]))
            tensor(11.)
        """
        from svertka._functions import einsum

        _check_vectors("dot", self, other, same=True)
        return einsum("i,i->", self, other)

    inner = dot

    def outer(self, vec2):
        """Outer product of two 1-D tensors: ``out[i, j] = self[i] * vec2[j]``."""
        from svertka._functions import einsum

        _check_vectors("outer", self, vec2)
        return einsum("i,j->ij", self, vec2)

    ger = outer

    def log1p(self):
        return self._float_unary(E.Log1p)

    def expm1(self):
        return self._float_unary(E.Expm1)

    def erf(self):
        return self._float_unary(E.Erf)

    def atan2(self, other):
        return _float_binary(E.Atan2, self, other, "atan2")

    arctan2 = atan2

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        b = other._data if isinstance(other, Tensor) else other
        _check_broadcast("isclose", self, b)
        return Tensor._make(np.asarray(np.isclose(self._data, b, rtol, atol, equal_nan)))

    def _new(self, make, size, dtype, requires_grad=False):
        dt = dtype if dtype is not None else self.dtype
        out = make(*_shape_args(size, "new"), dtype=dt)
        if requires_grad:
            out.requires_grad_(True)
        return out

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        from svertka._creation import zeros

        return self._new(zeros, size, dtype, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        from svertka._creation import ones

        return self._new(ones, size, dtype, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        from svertka._creation import empty

        return self._new(empty, size, dtype, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        from svertka._creation import full

        return self._new(lambda *s, dtype: full(s, fill_value, dtype=dtype), (size,), dtype,
                         requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        from svertka._creation import tensor

        if isinstance(data, Tensor):
            data = data._data
        return tensor(data, dtype=dtype if dtype is not None else self.dtype,
                      requires_grad=requires_grad)

    def _unary_(self, method, fn):
        return self._set_from(getattr(self, method)(), fn)

    def abs_(self):
        return self._unary_("abs", "abs_")

    def exp_(self):
        return self._unary_("exp", "exp_")

    def log_(self):
        return self._unary_("log", "log_")

    def sqrt_(self):
        return self._unary_("sqrt", "sqrt_")

    def neg_(self):
        return self._unary_("neg", "neg_")

    def sigmoid_(self):
        return self._unary_("sigmoid", "sigmoid_")

    def tanh_(self):
        return self._unary_("tanh", "tanh_")

    def relu_(self):
        return self._unary_("relu", "relu_")

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values (always sorted), optionally the inverse indices and counts;
        with ``dim``, the distinct slices along it. Not differentiable.

        Examples::

            >>> import svertka
            >>> svertka.tensor([2, 1, 2]).unique(return_counts=True)
            (tensor([1, 2]), tensor([1, 2]))
        """
        axis = None if dim is None else check_dim(dim, self.ndim, "unique")
        vals, inv, counts = np.unique(self._data, return_inverse=True, return_counts=True,
                                      axis=axis)
        inv = inv.reshape(self._data.shape if axis is None else -1).astype(np.int64)
        out = [Tensor._make(vals)]
        if return_inverse:
            out.append(Tensor._make(inv))
        if return_counts:
            out.append(Tensor._make(counts.astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    def bincount(self, weights=None, minlength=0):
        """Counts of each value of a 1-D non-negative int tensor (sums of ``weights``).

        Examples::

            >>> import svertka
            >>> svertka.tensor([0, 2, 2]).bincount()
            tensor([1, 0, 2])
        """
        a = self._data
        if a.dtype.kind not in "iub" or a.ndim != 1:
            raise error("bincount", f"input must be a 1-D tensor of non-negative ints, got "
                                    f"shape {tuple(a.shape)} dtype {self.dtype}")
        if a.size and a.min() < 0:
            raise error("bincount", f"input must be non-negative, got a value {a.min()}")
        if not is_int(minlength) or minlength < 0:
            raise error("bincount", f"minlength must be a non-negative int, got "
                                    f"minlength={minlength!r}")
        if weights is None:
            return Tensor._make(np.bincount(a, minlength=minlength).astype(np.int64))
        w = weights._data if isinstance(weights, Tensor) else np.asarray(weights)
        if w.shape != a.shape:
            raise error("bincount", f"weights must have the shape of input {tuple(a.shape)}, "
                                    f"got weights of shape {tuple(w.shape)}")
        dt = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
        return Tensor._make(np.bincount(a, w, minlength=minlength).astype(dt))

    def bernoulli(self):
        """0/1 draws with probabilities ``self`` (in [0, 1]), from ``svertka.random``."""
        from svertka.random import get_rng

        p = self._data
        if p.size and (np.nanmin(p) < 0 or np.nanmax(p) > 1 or np.isnan(p).any()):
            raise error("bernoulli", "all probabilities must be in [0, 1]")
        dt = p.dtype if p.dtype.kind == "f" else _dtype.get_default_dtype().np
        return Tensor._make((get_rng().random(p.shape) < p).astype(dt))

    def multinomial(self, num_samples, replacement=False):
        """Indices drawn from the rows of ``self`` (non-negative weights, not necessarily
        summing to 1), ``num_samples`` per row; without replacement each index at most once.

        Examples::

            >>> import svertka
            >>> svertka.tensor([0., 1., 0.]).multinomial(2, replacement=True)
            tensor([1, 1])
        """
        from svertka.random import get_rng

        w = self._data
        if w.ndim not in (1, 2) or w.dtype.kind != "f":
            raise error("multinomial", f"input must be a 1-D or 2-D float tensor of weights, "
                                       f"got shape {tuple(w.shape)} dtype {self.dtype}")
        if not is_int(num_samples) or num_samples <= 0:
            raise error("multinomial", f"num_samples must be a positive int, got "
                                       f"num_samples={num_samples!r}")
        rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
        if not np.isfinite(rows).all() or (rows < 0).any():
            raise error("multinomial", "weights must be finite and non-negative")
        total = rows.sum(axis=1, keepdims=True)
        if (total <= 0).any():
            raise error("multinomial", "the weights of every row must have a positive sum")
        if not replacement and num_samples > int((rows > 0).sum(axis=1).min()):
            raise error("multinomial", f"cannot sample num_samples={num_samples} without "
                                       f"replacement from fewer non-zero weights")
        rng = get_rng()
        if replacement:
            cdf = np.cumsum(rows / total, axis=1)
            cdf[:, -1] = 1.0
            u = rng.random((rows.shape[0], num_samples))
            idx = (u[:, :, None] >= cdf[:, None, :]).sum(axis=2)
            idx = np.minimum(idx, rows.shape[1] - 1)
        else:  # Gumbel top-k: the order of k draws without replacement
            with np.errstate(divide="ignore"):
                keys = np.log(rows) - np.log(-np.log(rng.random(rows.shape)))
            idx = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
        idx = idx.astype(np.int64)
        return Tensor._make(idx.reshape(-1) if w.ndim == 1 else idx)

    # ------------------------------------------------------------------ printing
    def __repr__(self):
        return _format(self)

    __str__ = __repr__


def tensor_like(value, like):
    return Tensor._make(np.asarray(value, dtype=like._data.dtype))


def _resolve_shape(shape, size, fn="reshape"):
    """The target shape of ``reshape``/``view``, with one ``-1`` inferred; messages as torch's:
    ``reshape: shape '[3, 5]' is invalid for input of size 12``."""
    if shape.count(-1) > 1:
        raise error(fn, f"only one dimension can be inferred, got shape {list(shape)}")
    for i, s in enumerate(shape):
        if s < -1:
            raise error(fn, f"invalid shape dimension {s} at index {i}, got shape {list(shape)}")
    invalid = error(fn, f"shape '{list(shape)}' is invalid for input of size {size}")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise invalid
        shape = tuple(size // known if s == -1 else s for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != size:
        raise invalid
    return shape


def _index(index, x=None):
    """Turn Tensors and lists inside an index into NumPy arrays; with ``x``, check the index
    against ``x``'s shape and raise torch's ``IndexError`` (naming index, dim and size)."""
    def conv(i):
        if isinstance(i, Tensor):
            a = i._data
            if a.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            return a if a.ndim else a.item() if a.dtype.kind != "b" else a
        if isinstance(i, list):
            a = np.asarray(i)
            if a.dtype.kind not in "iub" and a.size:
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            return a.astype(np.int64) if a.size == 0 else a
        return i

    items = tuple(conv(i) for i in index) if isinstance(index, tuple) else (conv(index),)
    if x is not None:
        _check_index(items, x._data.shape)
    return items if isinstance(index, tuple) else items[0]


def _check_index(items, shape):
    """Raise torch's IndexError for indices outside ``shape`` (NumPy's messages say 'axis')."""
    def consumes(i):
        if i is None or i is Ellipsis or isinstance(i, (bool, np.bool_)):
            return 0
        if isinstance(i, np.ndarray) and i.dtype == np.bool_:
            return i.ndim
        return 1

    ndim = len(shape)
    used = sum(consumes(i) for i in items)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    dim = 0
    for i in items:
        if i is Ellipsis:
            dim += ndim - used
        elif isinstance(i, (numbers.Integral, np.integer)) and not isinstance(
                i, (bool, np.bool_)):
            size = shape[dim]
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size "
                                 f"{size}")
            dim += 1
        elif isinstance(i, np.ndarray) and i.dtype == np.bool_:
            for k, n in enumerate(i.shape):
                if n != shape[dim + k]:
                    raise IndexError(f"The shape of the mask {list(i.shape)} at index {k} does "
                                     f"not match the shape of the indexed tensor "
                                     f"{list(shape)} at index {dim + k}")
            dim += i.ndim
        elif isinstance(i, np.ndarray) and i.dtype.kind in "iu":
            size = shape[dim]
            bad = (i < -size) | (i >= size)
            if bad.any():
                raise IndexError(f"index {i[bad].flat[0]} is out of bounds for dimension {dim} "
                                 f"with size {size}")
            dim += 1
        elif i is not None and not isinstance(i, (bool, np.bool_)):
            dim += 1


def _argmax_first(a, axis=None):
    # NaN propagates as the max, as in torch
    return np.argmax(a, axis=axis)


def _argmin_first(a, axis=None):
    return np.argmin(a, axis=axis)


def _arg(x, dim, keepdim, fn, name):
    if dim is None:
        r = np.asarray(fn(x._data.reshape(-1)))
        if keepdim:
            r = r.reshape((1,) * x.ndim)
        return Tensor._make(r.astype(np.int64))
    axis = check_dim(dim, x.ndim, name)
    if x.ndim == 0:
        return Tensor._make(np.zeros((), dtype=np.int64))
    r = fn(x._data, axis=axis)
    if keepdim:
        r = np.expand_dims(r, axis)
    return Tensor._make(np.asarray(r, dtype=np.int64))


# ---------------------------------------------------------------------- helpers of the more ops
def _int_index(index, fn, name="index"):
    """The int64 array of an index Tensor (TypeError for other dtypes)."""
    a = index._data if isinstance(index, Tensor) else None
    if a is None:
        raise type_error(fn, f"{name} must be a Tensor of int64, got {type(index).__name__}")
    if a.dtype.kind not in "iu":
        raise type_error(fn, f"{name} must be an integer tensor, got dtype {index.dtype}")
    return a.astype(np.int64, copy=False)


def _check_range(idx, n, axis, fn):
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise error(fn, f"index {bad} is out of bounds for dimension {axis} with size {n}")


def _check_index_along(x, dim, index, fn):
    """Checks of gather/scatter: same number of dims, index no larger than the input in the
    other dims, values in range along ``dim``."""
    idx = _int_index(index, fn)
    xnd = max(x.ndim, 1)
    axis = check_dim(dim, xnd, fn)
    if max(idx.ndim, 1) != xnd:
        raise error(fn, f"index has {idx.ndim} dimensions, input has {x.ndim}")
    shape = x._data.shape or (1,)
    idx = idx.reshape(idx.shape or (1,))
    for d in range(xnd):
        if d != axis and idx.shape[d] > shape[d]:
            raise error(fn, f"index {tuple(idx.shape)} is larger than input "
                            f"{tuple(shape)} in dimension {d}")
    _check_range(idx, shape[axis], axis, fn)
    if x.ndim == 0:
        idx = idx.reshape(())
    return axis, idx


def _sort_indices(a, axis, descending, fn):
    """Stable argsort along ``axis``, int64; NaN counts as the largest value (as in torch).

    Descending order is the ascending stable sort of the reversed array, reversed: equal values
    keep their original order, and no negation is needed (bools, unsigned ints, NaN).
    """
    if a.ndim == 0:
        return np.zeros((), dtype=np.int64)
    if not descending:
        return np.argsort(a, axis=axis, kind="stable").astype(np.int64, copy=False)
    n = a.shape[axis]
    asc = np.argsort(np.flip(a, axis), axis=axis, kind="stable")
    return (n - 1 - np.flip(asc, axis)).astype(np.int64, copy=False)


def _topk_indices(a, k, axis, largest):
    """The positions of the ``k`` largest (smallest) values along ``axis``, in sorted order,
    equal values by position. For small ``k`` an ``argpartition`` picks the candidates first
    (which of several values tied at the k-th place is kept is unspecified, as in torch)."""
    if a.ndim == 0:
        return np.zeros((), dtype=np.int64)
    n = a.shape[axis]
    if 0 < k and 4 * k <= n:
        kth = n - k if largest else k - 1
        part = np.argpartition(a, kth, axis=axis)
        part = np.moveaxis(part, axis, -1)
        part = part[..., n - k:] if largest else part[..., :k]
        part = np.sort(np.moveaxis(part, -1, axis), axis=axis)  # ties: by position
        order = _sort_indices(np.take_along_axis(a, part, axis=axis), axis, largest, "topk")
        return np.take_along_axis(part, order, axis=axis).astype(np.int64, copy=False)
    idx = _sort_indices(a, axis, largest, "topk")
    return np.take(idx, np.arange(k), axis=axis)


def _take_sorted(x, idx, axis):
    """(values, indices) with values gathered from ``x`` at ``idx`` along ``axis``."""
    from svertka.ops.indexing import Gather

    if x.ndim == 0:
        return x.clone(), Tensor._make(idx)
    return Gather.apply(x, index=idx, axis=axis), Tensor._make(idx)


def _check_matrices(fn, a, b, nd):
    for name, t in (("input", a), ("mat2", b)):
        if not isinstance(t, Tensor):
            raise type_error(fn, f"{name} must be a Tensor, got {type(t).__name__}")
        if t.ndim != nd:
            raise error(fn, f"{name} must be a {nd}-D tensor, got shape {tuple(t.shape)}")
    sa, sb = tuple(a.shape), tuple(b.shape)
    if nd == 3 and sa[0] != sb[0]:
        raise error(fn, f"batch sizes of shapes {sa} and {sb} differ ({sa[0]} != {sb[0]})")
    if sa[-1] != sb[-2]:
        raise error(fn, f"shapes {sa} and {sb} cannot be multiplied ({sa[-1]} != {sb[-2]})")


def _check_vectors(fn, a, b, same=False):
    for name, t in (("input", a), ("other", b)):
        if not isinstance(t, Tensor):
            raise type_error(fn, f"{name} must be a Tensor, got {type(t).__name__}")
        if t.ndim != 1:
            raise error(fn, f"{name} must be a 1-D tensor, got shape {tuple(t.shape)}")
    if same and a.shape[0] != b.shape[0]:
        raise error(fn, f"inconsistent tensor size, expected input {tuple(a.shape)} and "
                        f"other {tuple(b.shape)} to have the same number of elements")


# ---------------------------------------------------------------------- free functions
def matmul(input, other):
    """Matrix product with torch's rules for 1-D operands and batch broadcasting.

    Raises ``ValueError`` naming both shapes when the inner dimensions differ.
    """
    if not isinstance(other, Tensor):
        other = Tensor._make(np.asarray(other))
    a, b = input.shape, other.shape
    if len(a) == 0 or len(b) == 0:
        raise error("matmul", f"both arguments need at least 1 dimension, got shapes "
                              f"{tuple(a)} and {tuple(b)}")
    k1 = a[-1]
    k2 = b[0] if len(b) == 1 else b[-2]
    if k1 != k2:
        raise error("matmul", f"shapes {tuple(a)} and {tuple(b)} cannot be multiplied "
                              f"({k1} != {k2})")
    ba, bb = a[:-2], b[:-2]
    try:
        np.broadcast_shapes(ba, bb)
    except ValueError:
        raise error("matmul", f"batch dimensions of shapes {tuple(a)} and {tuple(b)} do not "
                              f"broadcast") from None
    dt = result_dtype(input, other)
    return M.MatMul.apply(_operand(input, dt), _operand(other, dt))


def _as_tensor_operand(x, like=None):
    if isinstance(x, Tensor):
        return x
    return Tensor._make(np.asarray(x, dtype=like._data.dtype if like is not None and isinstance(
        x, (float, int)) else None))


def maximum(input, other):
    _check_broadcast("maximum", input, other)
    dt = result_dtype(input, other)
    return E.Maximum.apply(_operand(input, dt), _operand(other, dt))


def minimum(input, other):
    _check_broadcast("minimum", input, other)
    dt = result_dtype(input, other)
    return E.Minimum.apply(_operand(input, dt), _operand(other, dt))


def where(condition, input, other):
    """``condition ? input : other`` elementwise, with broadcasting; differentiable in both."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise type_error("where", f"condition must be a bool tensor, got dtype {cond.dtype}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor._make(np.asarray(input))
    _check_broadcast("where", cond, input, other)
    dt = result_dtype(input, other)
    return E.Where.apply(cond, _operand(input, dt), _operand(other, dt))


def _check_cat(tensors, dim, fn, stack=False):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise type_error(fn, f"expected a sequence of Tensors, got {type(tensors).__name__}")
    if len(tensors) == 0:
        raise error(fn, "expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise type_error(fn, f"expected Tensor as element {i} in argument 0, but got "
                                 f"{type(t).__name__}")
    ref = tensors[0].shape
    nd = len(ref) + (1 if stack else 0)
    axis = check_dim(dim, nd, fn)
    for i, t in enumerate(tensors[1:], 1):
        s = t.shape
        if stack:
            if s != ref:
                raise error(fn, f"stack expects each tensor to be equal size, but got "
                                f"{list(ref)} at entry 0 and {list(s)} at entry {i}")
        elif len(s) != len(ref) or any(a != b for j, (a, b) in enumerate(zip(ref, s))
                                        if j != axis):
            raise error(fn, f"sizes of tensors must match except in dimension {axis}: "
                            f"expected {list(ref)} (except dim {axis}) but got {list(s)} "
                            f"for tensor number {i} in the list")
    dt = tensors[0]._data.dtype
    for t in tensors[1:]:
        dt = result_dtype(Tensor._make(np.empty((1,), dt)), t)
    return axis, [_operand(t, dt) for t in tensors]


def cat(tensors, dim=0):
    """Concatenate tensors along an existing dimension."""
    axis, ts = _check_cat(tensors, dim, "cat")
    return V.Cat.apply(*ts, axis=axis)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Stack same-shaped tensors along a new dimension."""
    axis, ts = _check_cat(tensors, dim, "stack", stack=True)
    return V.Stack.apply(*ts, axis=axis)


def split(tensor, split_size_or_sections, dim=0):
    """Split into chunks of ``split_size`` (the last may be smaller) or of the given sizes."""
    d = check_dim(dim, tensor.ndim, "split")
    n = tensor.shape[d]
    if is_int(split_size_or_sections):
        size = int(split_size_or_sections)
        if size <= 0 and n > 0:
            raise error("split", f"split_size must be positive, got split_size={size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise error("split", f"split_sizes {sizes} must sum to the size of dim {dim} ({n})")
    out, start = [], 0
    for s in sizes:
        out.append(tensor.narrow(d, start, s))
        start += s
    return tuple(out)


def chunk(tensor, chunks, dim=0):
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer pieces if it divides so)."""
    if not is_int(chunks) or chunks <= 0:
        raise error("chunk", f"chunks must be a positive int, got chunks={chunks!r}")
    d = check_dim(dim, tensor.ndim, "chunk")
    n = tensor.shape[d]
    size = max(-(-n // chunks), 1)
    return split(tensor, size, d)


# ---------------------------------------------------------------------- printing
# torch's print options (torch/_tensor_str.py): precision 4, threshold 1000, edgeitems 3,
# linewidth 80. The functions below follow torch's formatting rules.
_PRECISION, _THRESHOLD, _EDGEITEMS, _LINEWIDTH = 4, 1000, 3, 80


class _Formatter:
    """Chooses one format for every element (integer-valued floats print as ``1.``, scientific
    notation when the values span more than 1000x or exceed 1e8 or go below 1e-4) and the
    common width, so that columns and signs align as in torch."""

    def __init__(self, a):
        self.floating = a.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = a.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(f"{v}"))
            return
        vals = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if vals.size == 0:
            return
        absv = np.abs(vals)
        lo, hi = absv.min(), absv.max()
        values = vals.tolist()
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        if self.int_mode:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
            if not self.sci_mode:
                self.max_width = max(self.max_width, max(len(f"{v:.0f}") + 1 for v in values))
        else:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
            if not self.sci_mode:
                self.max_width = max(self.max_width,
                                     max(len(f"{v:.{_PRECISION}f}") for v in values))
        if self.sci_mode:
            self.max_width = max(self.max_width, max(len(f"{v:.{_PRECISION}e}") for v in values))

    def format(self, v):
        if self.floating:
            if self.sci_mode:
                r = f"{v:{self.max_width}.{_PRECISION}e}"
            elif self.int_mode:
                r = f"{v:.0f}"
                if np.isfinite(v):
                    r += "."
            else:
                r = f"{v:.{_PRECISION}f}"
        else:
            r = f"{v}"
        return " " * (self.max_width - len(r)) + r


def _summarized(a):
    """The elements that get printed when the tensor is summarized (edge items of each dim)."""
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        if a.shape[0] > 2 * _EDGEITEMS:
            return np.concatenate((a[:_EDGEITEMS], a[-_EDGEITEMS:]))
        return a
    rows = range(a.shape[0])
    if a.shape[0] > 2 * _EDGEITEMS:
        rows = list(range(_EDGEITEMS)) + list(range(a.shape[0] - _EDGEITEMS, a.shape[0]))
    return np.stack([_summarized(a[i]) for i in rows])


def _vector_str(a, indent, summarize, fmt):
    per_line = max(1, int(np.floor((_LINEWIDTH - indent) / (fmt.max_width + 2))))
    if summarize and a.shape[0] > 2 * _EDGEITEMS:
        data = ([fmt.format(v) for v in a[:_EDGEITEMS].tolist()] + [" ..."]
                + [fmt.format(v) for v in a[-_EDGEITEMS:].tolist()])
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _array_str(a, indent, summarize, fmt):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector_str(a, indent, summarize, fmt)
    if summarize and a.shape[0] > 2 * _EDGEITEMS:
        slices = ([_array_str(a[i], indent + 1, summarize, fmt) for i in range(_EDGEITEMS)]
                  + ["..."]
                  + [_array_str(a[i], indent + 1, summarize, fmt)
                     for i in range(a.shape[0] - _EDGEITEMS, a.shape[0])])
    else:
        slices = [_array_str(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _format(t):
    """``repr(tensor)`` as torch writes it, with ``svertka.`` dtypes."""
    a = t._data
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    default = _dtype.get_default_dtype().np
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if a.dtype != default:
            suffixes.append(f"dtype=svertka.{t.dtype.name}")
        body = "[]"
    else:
        if a.dtype not in (default, np.dtype(np.int64), np.dtype(np.bool_)):
            suffixes.append(f"dtype=svertka.{t.dtype.name}")
        summarize = a.size > _THRESHOLD
        fmt = _Formatter(_summarized(a) if summarize else a)
        body = _array_str(a, indent, summarize, fmt)
    if t._ctx is not None:
        suffixes.append(f"grad_fn=<{t._ctx.name()}0>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    out = [prefix + body]
    last_len = len(out[0]) - out[0].rfind("\n") + 1
    for sfx in suffixes:
        if last_len + len(sfx) + 2 > _LINEWIDTH:
            out.append(",\n" + " " * indent + sfx)
            last_len = indent + len(sfx)
        else:
            out.append(", " + sfx)
            last_len += len(sfx) + 2
    return "".join(out) + ")"
