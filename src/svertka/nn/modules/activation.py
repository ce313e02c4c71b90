"""Activation layers: one thin module per function of ``nn.functional``'s activations.

The class hierarchy is torch's: every layer subclasses ``Module`` directly, except ``ReLU6``,
which is a ``Hardtanh`` with ``min_val=0`` and ``max_val=6`` (so ``isinstance(nn.SiLU(),
nn.ReLU)`` is False, as in torch). Layers that only hold ``inplace`` share the private
``_InplaceActivation`` base.
"""

from __future__ import annotations

from svertka import _validate as V
from svertka._creation import empty
from svertka.nn import functional as F
from svertka.nn import init
from svertka.nn.modules.module import Module
from svertka.nn.parameter import Parameter


def _inplace_suffix(inplace):
    return ", inplace=True" if inplace else ""


class _InplaceActivation(Module):
    """A layer applying ``nn.functional.<_fn>(input, inplace=self.inplace)``.

    Not public: the concrete layers (``ReLU``, ``SiLU``, ...) subclass it, so that none of
    them subclasses another, as in torch.
    """

    _fn = "relu"

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        """Applies the activation elementwise (into ``input`` when ``inplace``)."""
        return getattr(F, self._fn)(input, inplace=self.inplace)

    def extra_repr(self):
        """``inplace=True`` when set, else nothing."""
        return "inplace=True" if self.inplace else ""


class ReLU(_InplaceActivation):
    """Applies ``max(0, x)`` elementwise, as ``torch.nn.ReLU``.

    Args:
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> m = svertka.nn.ReLU()
        >>> m(svertka.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """

    _fn = "relu"


class SELU(_InplaceActivation):
    """Applies ``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` elementwise, with torch's
    constants ``alpha = 1.6732632423543772`` and ``scale = 1.0507009873554805``.

    Args:
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.SELU()(svertka.tensor([0.0, 1.0]))
        tensor([0.0000, 1.0507])
    """

    _fn = "selu"


class SiLU(_InplaceActivation):
    """Applies the sigmoid linear unit ``x * sigmoid(x)`` elementwise (also called swish).

    Args:
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.SiLU()(svertka.tensor([0.0, 1.0]))
        tensor([0.0000, 0.7311])
    """

    _fn = "silu"


class Mish(_InplaceActivation):
    """Applies ``x * tanh(softplus(x))`` elementwise.

    Args:
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Mish()(svertka.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8651])
    """

    _fn = "mish"


class Hardsigmoid(_InplaceActivation):
    """Applies ``relu6(x + 3) / 6`` elementwise, the piecewise-linear sigmoid.

    Args:
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Hardsigmoid()(svertka.tensor([-4.0, 0.0, 1.5, 4.0]))
        tensor([0.0000, 0.5000, 0.7500, 1.0000])
    """

    _fn = "hardsigmoid"


class Hardswish(_InplaceActivation):
    """Applies ``x * relu6(x + 3) / 6`` elementwise.

    Args:
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Hardswish()(svertka.tensor([-1.5, 1.5, 4.0]))
        tensor([-0.3750,  1.1250,  4.0000])
    """

    _fn = "hardswish"


class LeakyReLU(Module):
    """Applies ``max(0, x) + negative_slope * min(0, x)`` elementwise.

    Args:
        negative_slope: the slope for negative inputs (default 0.01).
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.LeakyReLU(0.5)(svertka.tensor([-2.0, 3.0]))
        tensor([-1.,  3.])
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        """Applies ``F.leaky_relu`` with this layer's slope."""
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        """``negative_slope=...`` and ``inplace=True`` when set."""
        return f"negative_slope={self.negative_slope}" + _inplace_suffix(self.inplace)


class ELU(Module):
    """Applies ``max(0, x) + min(0, alpha * (exp(x) - 1))`` elementwise.

    Args:
        alpha: the value approached for large negative inputs is ``-alpha`` (default 1.0).
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.ELU()(svertka.tensor([-1.0, 2.0]))
        tensor([-0.6321,  2.0000])
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        """Applies ``F.elu`` with this layer's ``alpha``."""
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        """``alpha=...`` and ``inplace=True`` when set."""
        return f"alpha={self.alpha}" + _inplace_suffix(self.inplace)


class CELU(Module):
    """Applies ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`` elementwise.

    Args:
        alpha: the scale of the negative part, non-zero (default 1.0).
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.CELU(2.0)(svertka.tensor([-2.0, 2.0]))
        tensor([-1.2642,  2.0000])
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        """Applies ``F.celu`` with this layer's ``alpha``."""
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self):
        """``alpha=...`` and ``inplace=True`` when set."""
        return f"alpha={self.alpha}" + _inplace_suffix(self.inplace)


class PReLU(Module):
    """Applies ``max(0, x) + a * min(0, x)`` with a learnable ``a`` (one, or one per channel).

    Args:
        num_parameters: how many ``a`` to learn: 1, or the input's number of channels
            (dimension 1) (default 1).
        init: the initial value of every ``a`` (default 0.25).
        dtype: the weight's dtype (default: the default dtype).

    Shape:
        Input ``(*)``, with ``C = num_parameters`` channels in dimension 1 when
        ``num_parameters > 1``; output ``(*)``, the input's shape. ``weight``:
        ``(num_parameters,)``.

    Examples::

        >>> import svertka
        >>> m = svertka.nn.PReLU()
        >>> m(svertka.tensor([-2.0, 3.0]))
        tensor([-0.5000,  3.0000], grad_fn=<PreluBackward0>)
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        num_parameters = V.check_int(num_parameters, "num_parameters", "PReLU", minimum=1,
                                     what="a positive int")
        V.check_numel((num_parameters,), "PReLU", "num_parameters")
        self.num_parameters = num_parameters
        self.init = V.check_real(init, "init", "PReLU")
        self.weight = Parameter(empty(num_parameters, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        """Sets every ``a`` back to ``init``."""
        init.constant_(self.weight, self.init)

    def forward(self, input):
        """Applies ``F.prelu`` with this layer's weight."""
        return F.prelu(input, self.weight)

    def extra_repr(self):
        """``num_parameters=...``."""
        return f"num_parameters={self.num_parameters}"


class GELU(Module):
    """Applies the Gaussian error linear unit ``x * Phi(x)`` elementwise.

    Args:
        approximate: ``'none'`` (exact, with ``erf``) or ``'tanh'`` (torch's tanh
            approximation) (default ``'none'``).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.GELU()(svertka.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.1587,  0.0000,  0.8413])
    """

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        """Applies ``F.gelu`` with this layer's approximation."""
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        """``approximate=...``."""
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """Applies ``1 / (1 + exp(-x))`` elementwise.

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Sigmoid()(svertka.tensor([0.0, 2.0]))
        tensor([0.5000, 0.8808])
    """

    def forward(self, input):
        """Applies ``F.sigmoid``."""
        return F.sigmoid(input)


class Tanh(Module):
    """Applies the hyperbolic tangent elementwise.

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Tanh()(svertka.tensor([0.0, 1.0]))
        tensor([0.0000, 0.7616])
    """

    def forward(self, input):
        """Applies ``F.tanh``."""
        return F.tanh(input)


class Softsign(Module):
    """Applies ``x / (1 + |x|)`` elementwise.

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Softsign()(svertka.tensor([-3.0, 1.0]))
        tensor([-0.7500,  0.5000])
    """

    def forward(self, input):
        """Applies ``F.softsign``."""
        return F.softsign(input)


class Tanhshrink(Module):
    """Applies ``x - tanh(x)`` elementwise.

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Tanhshrink()(svertka.tensor([0.0, 1.0]))
        tensor([0.0000, 0.2384])
    """

    def forward(self, input):
        """Applies ``F.tanhshrink``."""
        return F.tanhshrink(input)


class LogSigmoid(Module):
    """Applies ``log(1 / (1 + exp(-x)))`` elementwise, stable for large ``|x|``.

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.LogSigmoid()(svertka.tensor([0.0, -100.0]))
        tensor([  -0.6931, -100.0000])
    """

    def forward(self, input):
        """Applies ``F.logsigmoid``."""
        return F.logsigmoid(input)


class Softplus(Module):
    """Applies ``log(1 + exp(beta * x)) / beta`` elementwise, and ``x`` itself where
    ``beta * x > threshold`` (for numerical stability, as torch).

    Args:
        beta: the sharpness (default 1.0).
        threshold: above ``beta * x > threshold`` the layer is linear (default 20.0).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Softplus()(svertka.tensor([0.0, 30.0]))
        tensor([ 0.6931, 30.0000])
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        """Applies ``F.softplus`` with this layer's ``beta`` and ``threshold``."""
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        """``beta=..., threshold=...``."""
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """Clamps every element to ``[min_val, max_val]``.

    Args:
        min_val: the lower bound (default -1.0).
        max_val: the upper bound, greater than ``min_val`` (default 1.0).
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Hardtanh()(svertka.tensor([-2.0, 0.5, 2.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        min_val = V.check_real(min_val, "min_val", "Hardtanh")
        max_val = V.check_real(max_val, "max_val", "Hardtanh")
        if not max_val > min_val:
            raise V.error("Hardtanh", f"max_val must be greater than min_val, got "
                                      f"min_val={min_val}, max_val={max_val}")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        """Applies ``F.hardtanh`` with this layer's bounds."""
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        """``min_val=..., max_val=...`` and ``inplace=True`` when set."""
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace_suffix(self.inplace)


class ReLU6(Hardtanh):
    """Applies ``min(max(0, x), 6)`` elementwise: a ``Hardtanh(0, 6)``, as in torch.

    Args:
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.ReLU6()(svertka.tensor([-1.0, 3.0, 8.0]))
        tensor([0., 3., 6.])
    """

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def forward(self, input):
        """Applies ``F.relu6`` (its errors name ``relu6``)."""
        return F.relu6(input, inplace=self.inplace)

    def extra_repr(self):
        """``inplace=True`` when set, else nothing."""
        return "inplace=True" if self.inplace else ""


class Threshold(Module):
    """Replaces every element ``<= threshold`` by ``value``.

    Args:
        threshold: the cut-off.
        value: what replaces the elements at or below it.
        inplace: overwrite the input's memory with the result (default False).

    Shape:
        Input ``(*)``, any shape; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Threshold(0.1, 20.0)(svertka.tensor([0.0, 0.5]))
        tensor([20.0000,  0.5000])
    """

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        """Applies ``F.threshold`` with this layer's ``threshold`` and ``value``."""
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        """``threshold=..., value=...`` and ``inplace=True`` when set."""
        return f"threshold={self.threshold}, value={self.value}" + _inplace_suffix(self.inplace)


class Hardshrink(Module):
    """Keeps ``x`` where ``|x| > lambd``, else 0.

    Args:
        lambd: the half-width of the zeroed band (default 0.5).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Hardshrink()(svertka.tensor([-1.0, 0.25, 2.0]))
        tensor([-1.,  0.,  2.])
    """

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        """Applies ``F.hardshrink`` with this layer's ``lambd``."""
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        """``lambd``'s value."""
        return f"{self.lambd}"


class Softshrink(Module):
    """Applies ``x - lambd`` where ``x > lambd``, ``x + lambd`` where ``x < -lambd``, else 0.

    Args:
        lambd: the half-width of the zeroed band, non-negative (default 0.5).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Softshrink()(svertka.tensor([-1.0, 0.25, 2.0]))
        tensor([-0.5000,  0.0000,  1.5000])
    """

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        """Applies ``F.softshrink`` with this layer's ``lambd``."""
        return F.softshrink(input, self.lambd)

    def extra_repr(self):
        """``lambd``'s value."""
        return f"{self.lambd}"


class GLU(Module):
    """The gated linear unit: splits the input in halves ``a, b`` along ``dim`` and returns
    ``a * sigmoid(b)``.

    Args:
        dim: the dimension to split, of even size (default -1).

    Shape:
        Input ``(*1, N, *2)``; output ``(*1, N / 2, *2)``.

    Examples::

        >>> import svertka
        >>> svertka.nn.GLU()(svertka.tensor([[1.0, 2.0, 0.0, 100.0]]))
        tensor([[0.5000, 2.0000]])
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        """Applies ``F.glu`` along this layer's ``dim``."""
        return F.glu(input, self.dim)

    def extra_repr(self):
        """``dim=...``."""
        return f"dim={self.dim}"


class _SoftmaxBase(Module):
    """A layer applying ``nn.functional.<_fn>(input, self.dim)``; private, as
    ``_InplaceActivation``, so that the three softmax layers do not subclass each other."""

    _fn = "softmax"

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        """Applies the function along ``dim`` (``None``: torch's legacy implicit dim, with a
        warning)."""
        return getattr(F, self._fn)(input, self.dim)

    def extra_repr(self):
        """``dim=...``."""
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """Applies ``exp(x_i) / sum_j exp(x_j)`` along ``dim``: every slice sums to 1.

    Args:
        dim: the dimension to normalise along (``None``: torch's legacy implicit choice, with a
            warning).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Softmax(dim=1)(svertka.tensor([[0.0, 0.0], [0.0, 1.0]]))
        tensor([[0.5000, 0.5000],
                [0.2689, 0.7311]])
    """

    _fn = "softmax"


class LogSoftmax(_SoftmaxBase):
    """Applies ``log(softmax(x))`` along ``dim``, computed stably.

    Args:
        dim: the dimension to normalise along (``None``: torch's legacy implicit choice, with a
            warning).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.LogSoftmax(dim=0)(svertka.tensor([0.0, 0.0]))
        tensor([-0.6931, -0.6931])
    """

    _fn = "log_softmax"


class Softmin(_SoftmaxBase):
    """Applies ``softmax(-x)`` along ``dim``.

    Args:
        dim: the dimension to normalise along (``None``: torch's legacy implicit choice, with a
            warning).

    Shape:
        Input ``(*)``, any shape, floating point; output ``(*)``, the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Softmin(dim=0)(svertka.tensor([0.0, 1.0]))
        tensor([0.7311, 0.2689])
    """

    _fn = "softmin"
