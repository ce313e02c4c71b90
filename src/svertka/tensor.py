"""`Tensor`: an ndarray, its gradient, and the link to the Function that made it.

The class holds the autograd state, the in-place machinery and one method per operation, most
of them one line. What the methods are made of lives in modules below this one, which never
import it (they recognise a tensor as a ``TensorBase``): ``_tensor_base`` (``TensorBase``:
shape, dtype, conversions), ``_promotion`` (torch's type promotion), ``_indexing`` (shapes and
indices), ``_convert`` (Python data to arrays), ``_tensor_ops`` (the bodies of the larger
operations, shared with the free functions ``svertka.topk``, ..., and the free functions
``matmul``, ``where``, ``maximum``, ``cat``, ...), ``_tensor_docs`` (the docstrings of the rarer
methods), ``_tensor_str`` (printing) and the ops.
"""

from __future__ import annotations

import numbers
import weakref

import numpy as np

from svertka import _dtype
from svertka import _tensor_ops as O
from svertka._convert import factory_array, to_array
from svertka._indexing import dims as _dims
from svertka._indexing import numpy_index as _index
from svertka._indexing import resolve_shape as _resolve_shape
from svertka._indexing import shape_args as _shape_args
from svertka._promotion import check_broadcast as _check_broadcast
from svertka._promotion import operand as _operand
from svertka._promotion import result_dtype
from svertka._tensor_base import Size, TensorBase
from svertka._tensor_docs import attach as attach_docs
from svertka._tensor_ops import matmul, maximum, minimum, where
from svertka._tensor_str import format_tensor
from svertka._validate import check_dim, error, is_int
from svertka.autograd import function as _function
from svertka.autograd import grad_mode
from svertka.autograd.hooks import node_hooks, register_hook
from svertka.ops import activation as A
from svertka.ops import elementwise as E
from svertka.ops import movement as V
from svertka.ops import reduce as R


def _binary(fn, a, b, name):
    if not isinstance(b, (Tensor, numbers.Number, np.number)):
        if isinstance(b, np.ndarray):
            b = Tensor._make(b)
        else:
            return NotImplemented
    _check_broadcast(name, a, b)
    if type(b) is Tensor and b._data.dtype == a._data.dtype:
        return fn.apply(a, b)  # the common case: nothing to promote
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


def _in_place(name):
    """The method ``<name>_`` (``x.relu_()``): ``self`` overwritten by ``self.<name>()``."""
    fn = f"{name}_"

    def method(self):
        return self._set_from(getattr(self, name)(), fn)

    method.__name__, method.__qualname__ = fn, f"Tensor.{fn}"
    method.__doc__ = f"In-place :meth:`{name}`; return self."
    return method


class Tensor(TensorBase):
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
                 "_inference", "__weakref__")
    __array_priority__ = 1000  # ndarray + Tensor -> Tensor.__radd__

    def __init__(self, data, dtype=None, requires_grad=False):
        self._data = to_array(data, dtype)
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
        if grad_mode._inference:  # factories inside inference_mode make inference tensors
            t._inference = True
        t._data = array
        t.grad = None
        t._requires_grad = False
        t._ctx = None
        t._version = [0]
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------ attributes
    def requires_grad_(self, requires_grad=True):
        """Set whether autograd records operations on this leaf tensor; return self."""
        if self._ctx is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_: you can only change requires_grad flags of leaf tensors. "
                "Use .detach() to get a tensor that does not require grad.")
        if requires_grad and self.is_inference() and not grad_mode._inference:
            raise RuntimeError("requires_grad_: setting requires_grad=True on inference tensor "
                               "outside InferenceMode is not allowed.")
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

    def size(self, dim=None):
        """The shape as a ``svertka.Size``, or the length of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[check_dim(dim, self.ndim, "size")]

    @property
    def device(self):
        from svertka._device import device

        return device("cpu")

    def cuda(self, *args, **kwargs):
        """Raise ``ValueError``: svertka runs on the CPU only (torch copies to a GPU)."""
        raise error("cuda", "svertka runs on the CPU only (svertka.cuda.is_available() is "
                            "False); use .to('cpu') or leave tensors where they are")

    def __hash__(self):
        return id(self)

    # ------------------------------------------------------------------ conversion
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise error("item", f"a Tensor with {self._data.size} elements cannot be converted "
                                f"to a Python scalar")
        return self._data.reshape(()).item()

    def detach(self):
        """A tensor sharing memory (and version counter) with this one, outside the graph."""
        t = Tensor._make(self._data)
        t._version = self._version
        return t

    def detach_(self):
        """Detach this tensor from the graph in place, making it a leaf; return self."""
        self._ctx = None
        self._requires_grad = False
        return self

    def clone(self):
        """A copy with its own memory; gradients flow back to this tensor."""
        return E.Clone.apply(self)

    def contiguous(self):
        """This tensor if it is C-contiguous, else a C-contiguous copy."""
        if self._data.flags.c_contiguous:
            return self
        return E.Clone.apply(self, order="C")

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
        out = Tensor._make(self._data.astype(np_dt))
        if self._data.dtype == np.bool_:
            _function.note_bool(out._data, np.ndarray.astype, (self,))   # a mask as numbers
        return out

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Args:
            gradient: the upstream gradient, shaped like ``self``; may be omitted for a
                single-element tensor (it is then 1).
            retain_graph: keep the saved arrays so that backward can run through the graph
                again (default False: the graph is freed).
        """
        O.backward(self, gradient, retain_graph, create_graph, inputs)

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor on the next backward."""
        if self._ctx is None:
            return self
        self._retains_grad = True
        node_hooks(self._ctx).retained = weakref.ref(self)
        return None

    def is_inference(self):
        """Whether this tensor was made inside ``svertka.inference_mode()``."""
        return getattr(self, "_inference", False)

    def register_hook(self, hook):  # the docstring, with an example, is in _tensor_docs.py
        return register_hook(self, hook)

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
        """In-place ``self += alpha * other``; return self."""
        if alpha != 1:
            other = other * alpha
        return self._inplace("add_", np.add, other)

    def sub_(self, other, *, alpha=1):
        """In-place ``self -= alpha * other``; return self."""
        if alpha != 1:
            other = other * alpha
        return self._inplace("sub_", np.subtract, other)

    def mul_(self, other):
        """In-place ``self *= other``; return self."""
        return self._inplace("mul_", np.multiply, other)

    def div_(self, other):
        """In-place ``self /= other`` (true division); return self."""
        return self._inplace("div_", np.true_divide, other)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def zero_(self):
        """Fill with zeros in place; return self."""
        return self._fill(0, "zero_")

    def fill_(self, value):
        """Fill with ``value`` in place; return self."""
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
        """Copy the values of ``src`` (broadcast to this shape, cast to this dtype) in place; return
        self.
        """
        if not isinstance(src, Tensor):
            src = Tensor._make(np.asarray(src))
        if grad_mode.is_grad_enabled() and src._requires_grad:
            return self._set_from(src.to(self.dtype).expand(*self.shape).clone(), "copy_")
        self._check_inplace("copy_")
        self._data[...] = src._data
        self._version[0] += 1
        return self

    def clamp_(self, min=None, max=None):
        """In-place :meth:`clamp`; return self."""
        if grad_mode.is_grad_enabled() and self._requires_grad:
            return self._set_from(self.clamp(min, max), "clamp_")
        np.clip(self._data, min, max, out=self._data)
        self._version[0] += 1
        return self

    def uniform_(self, a=0.0, b=1.0):
        """Fill in place with samples of the uniform distribution on ``[a, b)``; return self."""
        from svertka.random import get_rng

        with grad_mode.no_grad():
            return self.copy_(Tensor._make(get_rng().uniform(a, b, self._data.shape)))

    def normal_(self, mean=0.0, std=1.0):
        """Fill in place with samples of ``N(mean, std**2)``; return self."""
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
        """``self + alpha * other``, broadcasting."""
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, *, alpha=1):
        """``self - alpha * other``, broadcasting."""
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        """``self * other``, broadcasting."""
        return self * other

    def div(self, other):
        """``self / other`` (true division), broadcasting."""
        return self / other

    def pow(self, exponent):
        """``self ** exponent``, elementwise."""
        return self ** exponent

    def matmul(self, other):
        """The matrix product ``self @ other`` (see ``svertka.matmul``)."""
        return matmul(self, other)

    def neg(self):
        """``-self``, elementwise."""
        return -self

    # comparisons: no gradient, boolean results
    def _compare(self, other, op, name):
        b = other._data if isinstance(other, Tensor) else other
        _check_broadcast(name, self, b)
        out = Tensor._make(np.asarray(op(self._data, b)))
        _function.note_bool(out._data, op, (self, other))     # for ONNX export
        return out

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
            return self.logical_not()
        return Tensor._make(np.invert(self._data))

    def logical_not(self):
        """A bool tensor, True where this one is zero."""
        out = Tensor._make(np.logical_not(self._data))
        _function.note_bool(out._data, np.logical_not, (self,))
        return out

    def isnan(self):
        """A bool tensor, True where an element is NaN."""
        return Tensor._make(np.isnan(self._data))

    def isinf(self):
        """A bool tensor, True where an element is +inf or -inf."""
        return Tensor._make(np.isinf(self._data))

    def isfinite(self):
        """A bool tensor, True where an element is neither infinite nor NaN."""
        return Tensor._make(np.isfinite(self._data))

    def sign(self):
        """-1, 0 or 1 per element, as the sign of each."""
        return E.Sign.apply(self)

    def floor(self):
        """The largest integer not above each element."""
        return E.Floor.apply(self)

    def ceil(self):
        """The smallest integer not below each element."""
        return E.Ceil.apply(self)

    def round(self):
        """Each element rounded to the nearest integer, halves to even."""
        return E.Round.apply(self)

    # ------------------------------------------------------------------ unary math
    def _float_unary(self, fn):
        x = self if self._data.dtype.kind in "fc" else self.to(_dtype.get_default_dtype())
        return fn.apply(x)

    def abs(self):
        """The absolute value of each element."""
        return E.Abs.apply(self)

    def exp(self):
        """``e ** x``, elementwise."""
        return self._float_unary(E.Exp)

    def log(self):
        """The natural logarithm, elementwise."""
        return self._float_unary(E.Log)

    def sqrt(self):
        """The square root, elementwise."""
        return self._float_unary(E.Sqrt)

    def rsqrt(self):
        """``1 / sqrt(x)``, elementwise."""
        return 1 / self.sqrt()

    def reciprocal(self):
        """``1 / x``, elementwise."""
        return 1 / self

    def square(self):
        """``x * x``, elementwise."""
        return self * self

    def sin(self):
        """The sine, elementwise."""
        return self._float_unary(E.Sin)

    def cos(self):
        """The cosine, elementwise."""
        return self._float_unary(E.Cos)

    def tanh(self):
        """The hyperbolic tangent, elementwise."""
        return self._float_unary(E.Tanh)

    def sigmoid(self):
        """``1 / (1 + exp(-x))``, elementwise."""
        return self._float_unary(E.Sigmoid)

    def relu(self):
        """``max(x, 0)``, elementwise."""
        return E.Relu.apply(self)

    def softmax(self, dim):
        """``exp(x) / sum(exp(x))`` along ``dim`` (see ``nn.functional.softmax``)."""
        return O.softmax(self, dim, A.Softmax, "softmax")

    def log_softmax(self, dim):
        """``x - logsumexp(x)`` along ``dim`` (see ``nn.functional.log_softmax``)."""
        return O.softmax(self, dim, A.LogSoftmax, "log_softmax")

    def clamp(self, min=None, max=None):
        """Each element limited to ``[min, max]`` (either bound may be ``None``, or a tensor)."""
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
        """The sum over ``dim`` (an int, a tuple, or ``None`` for all elements)."""
        axis = _dims(dim, self.ndim, "sum")
        np_dt = _dtype.to_np(dtype)
        if np_dt is None and self._data.dtype.kind in "bui":
            np_dt = np.dtype(np.int64)  # torch sums integers and bools as int64
        x = self if np_dt is None or np_dt.kind not in "fc" else self.to(np_dt)
        return R.Sum.apply(x, axis=axis, keepdim=keepdim, dtype=np_dt)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        """The mean over ``dim`` (an int, a tuple, or ``None`` for all elements)."""
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind not in "fc":
            raise error("mean", f"could not infer output dtype: input dtype must be floating "
                                f"point, got {x.dtype}")
        return R.Mean.apply(x, axis=_dims(dim, x.ndim, "mean"), keepdim=keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """The variance over ``dim``, with Bessel's correction unless ``unbiased=False`` or
        ``correction=0``.
        """
        return O.var_std(self, R.Var, "var", dim, unbiased, keepdim, correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """The standard deviation over ``dim``; the square root of :meth:`var`."""
        return O.var_std(self, R.Std, "std", dim, unbiased, keepdim, correction)

    def prod(self, dim=None, keepdim=False):
        """The product over ``dim`` (or over all elements)."""
        return R.Prod.apply(self, axis=_dims(dim, self.ndim, "prod"), keepdim=keepdim)

    def logsumexp(self, dim, keepdim=False):
        """``log(sum(exp(x)))`` over ``dim``, computed without overflow."""
        return R.LogSumExp.apply(self, axis=_dims(dim, self.ndim, "logsumexp"),
                                 keepdim=keepdim)

    def max(self, dim=None, keepdim=False):
        """The largest element or, with ``dim``, the pair ``(values, indices)`` along it."""
        return _pair_or_tensor(O.extreme(self, dim, keepdim, np.max, "max"))

    def min(self, dim=None, keepdim=False):
        """The smallest element or, with ``dim``, the pair ``(values, indices)`` along it."""
        return _pair_or_tensor(O.extreme(self, dim, keepdim, np.min, "min"))

    def amax(self, dim=(), keepdim=False):
        """The largest values over ``dim`` (an int or tuple; all dimensions by default)."""
        return O.aextreme(self, dim, keepdim, np.max, "amax")

    def amin(self, dim=(), keepdim=False):
        """The smallest values over ``dim`` (an int or tuple; all dimensions by default)."""
        return O.aextreme(self, dim, keepdim, np.min, "amin")

    def argmax(self, dim=None, keepdim=False):
        """The index of the largest element (of the flattened tensor, or along ``dim``)."""
        return Tensor._make(O.arg(self, dim, keepdim, np.argmax, "argmax"))

    def argmin(self, dim=None, keepdim=False):
        """The index of the smallest element (of the flattened tensor, or along ``dim``)."""
        return Tensor._make(O.arg(self, dim, keepdim, np.argmin, "argmin"))

    def all(self, dim=None, keepdim=False):
        """Whether every element (or every element along ``dim``) is non-zero, as a bool tensor."""
        return Tensor._make(np.asarray(np.all(self._data, axis=_dims(dim, self.ndim, "all"),
                                              keepdims=keepdim)))

    def any(self, dim=None, keepdim=False):
        """Whether some element (or some element along ``dim``) is non-zero, as a bool tensor."""
        return Tensor._make(np.asarray(np.any(self._data, axis=_dims(dim, self.ndim, "any"),
                                              keepdims=keepdim)))

    def norm(self, p=2, dim=None, keepdim=False):
        """The ``p``-norm over ``dim`` (over all elements by default)."""
        return O.norm(self, p, dim, keepdim)

    # ------------------------------------------------------------------ movement
    def reshape(self, *shape, _fn="reshape"):
        """The same elements in a new shape (one size may be -1); a view when possible."""
        shape = _shape_args(shape, _fn)
        target = _resolve_shape(shape, self._data.size, _fn)
        return V.Reshape.apply(self, shape=target)

    def view(self, *shape):
        """The same memory in a new shape (or, given a dtype, reinterpreted as it)."""
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, Size)) and not is_int(
                shape[0]):
            return self.to(shape[0])  # view(dtype)
        return self.reshape(*shape, _fn="view")

    def view_as(self, other):
        """A view of this tensor in the shape of ``other``."""
        return self.reshape(other.shape)

    def reshape_as(self, other):
        """This tensor reshaped to the shape of ``other``."""
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        """The dimensions ``start_dim`` to ``end_dim`` merged into one."""
        return O.flatten(self, start_dim, end_dim)

    def unflatten(self, dim, sizes):
        """Dimension ``dim`` split into ``sizes``."""
        return O.unflatten(self, dim, sizes)

    def squeeze(self, dim=None):
        """The dimensions of size 1 (all, or those in ``dim``) removed."""
        return O.squeeze(self, dim)

    def unsqueeze(self, dim):
        """A dimension of size 1 inserted at ``dim``."""
        d = check_dim(dim, self.ndim + 1, "unsqueeze")
        shape = self.shape
        return self.reshape(shape[:d] + (1,) + shape[d:])

    def permute(self, *dims):
        """A view with the dimensions in the order ``dims``."""
        return O.permute(self, dims)

    def transpose(self, dim0, dim1):
        """A view with dimensions ``dim0`` and ``dim1`` swapped."""
        return O.transpose(self, dim0, dim1)

    swapaxes = transpose

    def t(self):
        """The transpose of a 2-D tensor (a 0-D or 1-D tensor unchanged)."""
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
        """A broadcast view to ``sizes`` (-1 keeps a size); no memory is copied."""
        return O.expand(self, sizes)

    def expand_as(self, other):
        """A broadcast view to the shape of ``other``."""
        return self.expand(*other.shape)

    def repeat(self, *reps):
        """The tensor tiled ``reps`` times along each dimension."""
        return O.repeat(self, reps)

    def flip(self, *dims):
        """The elements in reverse order along ``dims``."""
        dims = _shape_args(dims, "flip")
        return V.Flip.apply(self, axes=tuple(check_dim(d, self.ndim, "flip") for d in dims))

    def split(self, split_size_or_sections, dim=0):
        """Chunks of size ``split_size_or_sections`` (or of the listed sizes) along ``dim``."""
        return O.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        """At most ``chunks`` nearly equal views along ``dim``."""
        return O.chunk(self, chunks, dim)

    def narrow(self, dim, start, length):
        """A view of ``length`` elements from ``start`` along ``dim``."""
        d = check_dim(dim, self.ndim, "narrow")
        index = (slice(None),) * d + (slice(start, start + length),)
        return self[index]

    def unbind(self, dim=0):
        """The slices along ``dim``, as a tuple of tensors with that dimension removed."""
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
        """Elements of self where ``condition`` holds, else of ``other``."""
        return where(condition, self, other)

    def masked_fill(self, mask, value):
        """A copy with ``value`` where ``mask`` is True."""
        return where(mask, tensor_like(value, self), self)

    def maximum(self, other):
        """The elementwise maximum with ``other`` (NaN propagates)."""
        return maximum(self, other)

    def minimum(self, other):
        """The elementwise minimum with ``other`` (NaN propagates)."""
        return minimum(self, other)

    # ------------------------------------------------------------------ more ops
    # The rarer methods: one line each, their docstrings in _tensor_docs.py (attached below).
    def topk(self, k, dim=-1, largest=True, sorted=True):
        return _sorted(*O.topk(self, k, dim, largest))

    def sort(self, dim=-1, descending=False, stable=False):
        return _sorted(*O.sort(self, dim, descending))

    def argsort(self, dim=-1, descending=False, stable=False):
        return Tensor._make(O.argsort(self, dim, descending))

    def gather(self, dim, index):
        return O.gather(self, dim, index)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return O.scatter(self, dim, index, src, value, reduce)

    def scatter_add(self, dim, index, src):
        return O.scatter_add(self, dim, index, src)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return self._set_from(self.scatter(dim, index, src, value=value, reduce=reduce),
                              "scatter_")

    def scatter_add_(self, dim, index, src):
        return self._set_from(self.scatter_add(dim, index, src), "scatter_add_")

    def index_select(self, dim, index):
        return O.index_select(self, dim, index)

    def masked_fill_(self, mask, value):
        return self._set_from(self.masked_fill(mask, value), "masked_fill_")

    def nonzero(self, *, as_tuple=False):
        return _wrap(O.nonzero(self, as_tuple))

    def cumsum(self, dim, *, dtype=None):
        return O.cumsum(self, dim, dtype)

    def cumprod(self, dim, *, dtype=None):
        return O.cumprod(self, dim, dtype)

    def tril(self, diagonal=0):
        return O.tri(self, diagonal, False, "tril")

    def triu(self, diagonal=0):
        return O.tri(self, diagonal, True, "triu")

    def mm(self, mat2):
        return O.matrix_product("mm", self, mat2, 2)

    def bmm(self, mat2):
        return O.matrix_product("bmm", self, mat2, 3)

    def dot(self, other):
        return O.vector_product("dot", "i,i->", self, other, same=True)

    inner = dot

    def outer(self, vec2):
        return O.vector_product("outer", "i,j->ij", self, vec2)

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
        return Tensor._make(O.isclose(self, other, rtol, atol, equal_nan))

    def _new(self, fn, size, dtype, requires_grad, make):
        """A new tensor of ``make(shape, np_dtype)`` (the dtype: self's unless given), checked
        as the factory ``fn`` (``zeros``, ...) checks it."""
        dt = dtype if dtype is not None else self.dtype
        out = Tensor._make(factory_array(fn, _shape_args(size, "new"), dt, None, make))
        if requires_grad:
            out.requires_grad_(True)
        return out

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new("zeros", size, dtype, requires_grad, np.zeros)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new("ones", size, dtype, requires_grad, np.ones)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new("empty", size, dtype, requires_grad, np.empty)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        return self._new("full", (size,), dtype, requires_grad,
                         lambda s, d: np.full(s, fill_value, dtype=d))

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        if isinstance(data, Tensor):
            data = data._data
        return Tensor(data, dtype=dtype if dtype is not None else self.dtype,
                      requires_grad=requires_grad)

    abs_, exp_, log_, sqrt_ = (_in_place(n) for n in ("abs", "exp", "log", "sqrt"))
    neg_, sigmoid_, tanh_, relu_ = (_in_place(n) for n in ("neg", "sigmoid", "tanh", "relu"))

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return _wrap(O.unique(self, return_inverse, return_counts, dim))

    def bincount(self, weights=None, minlength=0):
        return Tensor._make(O.bincount(self, weights, minlength))

    def bernoulli(self):
        return Tensor._make(O.bernoulli(self))

    def multinomial(self, num_samples, replacement=False):
        return Tensor._make(O.multinomial(self, num_samples, replacement))

    # ------------------------------------------------------------------ printing
    def __repr__(self):
        return format_tensor(self)

    __str__ = __repr__


attach_docs(Tensor)

def tensor_like(value, like):
    """A constant tensor of ``value`` with the dtype of ``like``."""
    return Tensor._make(np.asarray(value, dtype=like._data.dtype))


def _wrap(result):
    """The Tensor (or tuple of Tensors) of the array (tuple of arrays) an op body returned."""
    if isinstance(result, tuple):
        return tuple(Tensor._make(a) for a in result)
    return Tensor._make(result)


def _sorted(values, indices):
    """``(values, indices)`` of ``sort``/``topk``/``max(dim)``, also by name."""
    return O.ValuesIndices((values, Tensor._make(indices)))


def _pair_or_tensor(result):
    """``max``/``min``: a tensor, or the ``(values, index array)`` of a reduction along a dim."""
    return _sorted(*result) if isinstance(result, tuple) else result
