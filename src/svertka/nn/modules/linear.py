"""`Linear`, `Bilinear`, `Identity`, `Flatten`, `Unflatten`."""

from __future__ import annotations

import math

from svertka import _dtype
from svertka import _validate as V
from svertka._creation import empty
from svertka.nn import functional as F
from svertka.nn import init
from svertka.nn.modules.module import Module
from svertka.nn.parameter import Parameter


def _dt(dtype):
    return _dtype.to_dtype(dtype) if dtype is not None else None


class Identity(Module):
    """Return the input unchanged, as ``torch.nn.Identity``; any constructor arguments are
    accepted and ignored (a placeholder where a layer is switched off).

    Examples::

        >>> import svertka
        >>> svertka.nn.Identity(54, unused="x")(svertka.tensor([1., 2.]))
        tensor([1., 2.])
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """``y = x W^T + b``, as ``torch.nn.Linear``.

    Args:
        in_features, out_features: sizes of each input and output sample.
        bias: learn an additive bias (default True).

    Shape:
        input ``(*, in_features)``, output ``(*, out_features)``; weight
        ``(out_features, in_features)``, initialised U(+-1/sqrt(in_features)) like the bias.

    Examples::

        >>> import svertka
        >>> fc = svertka.nn.Linear(20, 30)
        >>> fc(svertka.randn(128, 20)).shape
        svertka.Size([128, 30])
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        in_features, out_features = (
            V.check_int(value, arg, "Linear", minimum=0, what="a non-negative int")
            for arg, value in (("in_features", in_features), ("out_features", out_features)))
        V.check_numel((out_features, in_features), "Linear", "weight")
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in_features, dtype=_dt(dtype)))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=_dt(dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Draw the weight from ``kaiming_uniform_(a=sqrt(5))`` and the bias from
        ``U(-1/sqrt(in_features), 1/sqrt(in_features))``, as torch.
        """
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """``y = x1^T A x2 + b`` per output feature, as ``torch.nn.Bilinear``.

    Args:
        in1_features (int): the size of each ``x1`` sample.
        in2_features (int): the size of each ``x2`` sample.
        out_features (int): the size of each output sample.
        bias (bool): learn an additive bias. Default: ``True``.

    Shape:
        - Input1: ``(*, in1_features)``; Input2: ``(*, in2_features)``, the same ``*``.
        - Output: ``(*, out_features)``.

    Examples::

        >>> import svertka
        >>> m = svertka.nn.Bilinear(2, 3, 4)
        >>> m(svertka.randn(5, 2), svertka.randn(5, 3)).shape
        svertka.Size([5, 4])
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        fn = "Bilinear"
        in1_features = V.check_int(in1_features, "in1_features", fn, minimum=1,
                                   what="a positive int")   # the init divides by it
        in2_features = V.check_int(in2_features, "in2_features", fn, minimum=0,
                                   what="a non-negative int")
        out_features = V.check_int(out_features, "out_features", fn, minimum=0,
                                   what="a non-negative int")
        V.check_numel((out_features, in1_features, in2_features), fn, "weight")
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in1_features, in2_features,
                                      dtype=_dt(dtype)))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=_dt(dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Draw weight and bias from ``U(-1/sqrt(in1_features), 1/sqrt(in1_features))``."""
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Merge the dimensions ``start_dim`` to ``end_dim`` into one, as ``torch.nn.Flatten``.

    Args:
        start_dim (int): the first dimension to merge. Default: 1 (keep the batch dimension).
        end_dim (int): the last dimension to merge. Default: -1.

    Shape:
        - Input: ``(*, S_start, ..., S_end, *)``.
        - Output: ``(*, S_start * ... * S_end, *)``.

    Examples::

        >>> import svertka
        >>> svertka.nn.Flatten()(svertka.zeros(2, 3, 4, 5)).shape
        svertka.Size([2, 60])
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        V.check_tensor(input, "input", "Flatten")
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``, as ``torch.nn.Unflatten``.

    Args:
        dim (int): the dimension to split.
        unflattened_size (tuple of ints): the new sizes; their product is the size of ``dim``.

    Shape:
        - Input: ``(*, S_dim, *)``.
        - Output: ``(*, U_1, ..., U_n, *)``.

    Examples::

        >>> import svertka
        >>> svertka.nn.Unflatten(1, (3, 4))(svertka.zeros(2, 12)).shape
        svertka.Size([2, 3, 4])
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                V.is_int(s) for s in unflattened_size):
            raise V.type_error("Unflatten", f"unflattened_size must be a tuple of ints, got "
                                            f"unflattened_size={V._fmt(unflattened_size)}")
        self.dim, self.unflattened_size = dim, tuple(int(s) for s in unflattened_size)

    def forward(self, input):
        V.check_tensor(input, "input", "Unflatten")
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
