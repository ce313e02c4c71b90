"""Linear layers and shape helpers: ``linear``, ``bilinear``, ``flatten``.

Arguments are checked here (errors name the function and the argument), then one op of
``svertka.ops.linear`` is applied: a GEMM forward and backward over the flattened leading
dimensions.
"""

from __future__ import annotations

from svertka._validate import check_dim, check_float_tensor, check_tensor, error
from svertka.ops import linear as L

__all__ = ["linear", "bilinear", "flatten"]


def _bias(bias, out, weight, fn, input):
    if bias is None:
        return None
    check_float_tensor(bias, "bias", fn, like=input)
    # torch broadcasts the bias onto (*, out): () and (1,) are accepted too
    b_shape = bias._data.shape
    if len(b_shape) > 1 or (len(b_shape) == 1 and b_shape[0] not in (1, out)):
        raise error(fn, f"bias must have shape ({out},) to match weight {tuple(weight.shape)}, "
                        f"got bias of shape {tuple(bias.shape)}")
    return bias


def linear(input, weight, bias=None):
    """Applies the affine map ``y = x W^T + b``.

    Args:
        input: a floating-point tensor ``(*, in_features)``.
        weight: ``(out_features, in_features)``, the input's dtype.
        bias: ``(out_features,)`` or ``None``.

    Shape:
        Input ``(*, in_features)`` (at least 1-D); output ``(*, out_features)``.

    Backward, with ``x`` and ``dL/dy`` flattened to ``(B, in)`` and ``(B, out)``:
    ``dL/dx = dL/dy @ W``, ``dL/dW = dL/dy^T @ x``, ``dL/db = sum_B dL/dy``.

    Examples::

        >>> import svertka
        >>> from svertka.nn.functional import linear
        >>> linear(svertka.ones(5, 3), svertka.ones(2, 3), svertka.tensor([0.0, 1.0]))
        tensor([[3., 4.],
                [3., 4.],
                [3., 4.],
                [3., 4.],
                [3., 4.]])
        >>> linear(svertka.ones(8, 4, 3), svertka.ones(2, 3)).shape
        svertka.Size([8, 4, 2])
    """
    fn = "linear"
    check_float_tensor(input, "input", fn)
    check_float_tensor(weight, "weight", fn, like=input)
    x_shape, w_shape = input._data.shape, weight._data.shape   # tuples: no Size per check
    if len(x_shape) == 0:
        raise error(fn, "input must be at least 1-D (*, in_features), got a 0-D input")
    if len(w_shape) != 2:
        raise error(fn, f"weight must be 2-D (out_features, in_features), got weight of shape "
                        f"{w_shape}")
    out, in_features = w_shape
    if x_shape[-1] != in_features:
        raise error(fn, f"input has {x_shape[-1]} features, weight expects {in_features}",
                    f"weight {w_shape}")
    bias = _bias(bias, out, weight, fn, input)
    return L.Linear.apply(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """Applies the bilinear map ``y_o = x1^T A_o x2 + b_o``.

    Args:
        input1: ``(*, in1_features)``.
        input2: ``(*, in2_features)``, with the same leading dimensions as ``input1``.
        weight: ``(out_features, in1_features, in2_features)``.
        bias: ``(out_features,)`` or ``None``.

    Shape:
        Output ``(*, out_features)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.bilinear(svertka.ones(2, 3), svertka.ones(2, 4), svertka.ones(5, 3, 4)).shape
        svertka.Size([2, 5])
        >>> F.bilinear(svertka.tensor([1.0, 2.0]), svertka.tensor([3.0]),
        ...            svertka.ones(1, 2, 1), svertka.tensor([0.5]))
        tensor([9.5000])
    """
    fn = "bilinear"
    check_float_tensor(input1, "input1", fn)
    check_float_tensor(input2, "input2", fn, like=input1)
    check_float_tensor(weight, "weight", fn, like=input1)
    if weight.ndim != 3:
        raise error(fn, f"weight must be 3-D (out_features, in1_features, in2_features), got "
                        f"weight of shape {tuple(weight.shape)}")
    if input1.ndim == 0 or input2.ndim == 0:
        raise error(fn, f"inputs must be at least 1-D, got input1 of shape "
                        f"{tuple(input1.shape)} and input2 of shape {tuple(input2.shape)}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise error(fn, f"input batch dimensions do not match: got {tuple(input1.shape[:-1])} "
                        f"and {tuple(input2.shape[:-1])}")
    out, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2:
        raise error(fn, f"inputs have {input1.shape[-1]} and {input2.shape[-1]} features, "
                        f"weight expects {in1} and {in2}", f"weight {tuple(weight.shape)}")
    if bias is not None:
        check_float_tensor(bias, "bias", fn, like=input1)
        if tuple(bias.shape) != (out,):
            raise error(fn, f"bias must have shape ({out},) to match weight "
                            f"{tuple(weight.shape)}, got bias of shape {tuple(bias.shape)}")
    return L.Bilinear.apply(input1, input2, weight, bias)


def flatten(input, start_dim=0, end_dim=-1):
    """Flattens dimensions ``start_dim..end_dim`` into one (``torch.flatten``).

    Args:
        input: a tensor.
        start_dim: the first dimension to flatten. Default: 0.
        end_dim: the last dimension to flatten. Default: -1.

    Shape:
        Input ``(*, S_start, ..., S_end, *)``; output ``(*, S_start * ... * S_end, *)``; a 0-D
        input becomes 1-D.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.flatten(svertka.zeros(2, 3, 4), 1).shape
        svertka.Size([2, 12])
    """
    check_tensor(input, "input", "flatten")
    check_dim(start_dim, input.ndim, "flatten", "start_dim")     # torch: a 0-D input takes
    check_dim(end_dim, input.ndim, "flatten", "end_dim")         # dims -1 and 0 only
    return input.flatten(start_dim, end_dim)
