"""``pad`` with torch.nn.functional's signature: constant, reflect, replicate, circular.

The checks (and torch's rules on which ranks each mode accepts) live here; the op is
``svertka.ops.pad.Pad`` over the kernels of ``svertka.kernels.pad``.
"""

from __future__ import annotations

import numbers

from svertka._validate import (
    INT64_MAX,
    _fmt,
    check_choice,
    check_numel,
    check_tensor,
    error,
    is_int,
    type_error,
)
from svertka.kernels.pad import MODES, padded_shape, pairs_from_torch
from svertka.ops.pad import Pad

__all__ = ["pad"]

# non-constant modes: number of padded trailing dims -> the input ranks torch accepts
_RANKS = {1: (2, 3), 2: (3, 4), 3: (4, 5)}


def _check_pad(pad, input, mode):
    fn = "pad"
    if not isinstance(pad, (tuple, list)) or not all(is_int(p) for p in pad):
        raise type_error(fn, f"pad must be a tuple of ints, got pad={_fmt(pad)}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise error(fn, f"padding length must be divisible by 2, got pad={pad}")
    if len(pad) > 2 * input.ndim:
        raise error(fn, f"padding length {len(pad)} is more than two times the input "
                        f"dimension {input.ndim}, got pad={pad}", f"input {tuple(input.shape)}")
    if any(abs(p) > INT64_MAX for p in pad):
        raise error(fn, f"pad must be ints that fit in int64, got pad={pad}")
    check_choice(mode, MODES, "mode", fn)
    pairs = pairs_from_torch(pad)
    shape = tuple(input.shape)
    lead = len(shape) - len(pairs)
    if mode != "constant":
        k = len(pairs)
        if k not in _RANKS or input.ndim not in _RANKS[k]:
            raise error(fn, f"mode={mode!r} takes a pad of length 2 for a 2-D or 3-D input, 4 "
                            f"for a 3-D or 4-D input, 6 for a 4-D or 5-D input; got pad of "
                            f"length {len(pad)} for a {input.ndim}-D input",
                        f"input {shape}, pad={pad}")
    if mode != "constant":
        batch = 1 if input.ndim == max(_RANKS[len(pairs)]) else 0
        if 0 in shape[batch:]:
            raise error(fn, f"mode={mode!r} needs non-zero dims (only the batch may be empty), "
                            f"got input of shape {shape}")
    for d, (n, (lo, hi)) in enumerate(zip(shape[lead:], pairs), start=lead):
        out = n + lo + hi
        kept = n - max(0, -lo) - max(0, -hi)
        if kept < 0:
            raise error(fn, f"negative padding crops {max(0, -lo) + max(0, -hi)} element(s) "
                            f"of dim {d}, which has only {n}, got padding ({lo}, {hi}) at "
                            f"dim {d}", f"input {shape}, pad={pad}")
        if mode == "reflect" and (lo >= n or hi >= n):
            raise error(fn, f"reflect padding must be less than the size {n} of dim {d}, "
                            f"got padding ({lo}, {hi}) at dim {d}", f"input {shape}")
        if mode == "circular":
            kept = n - max(0, -lo) - max(0, -hi)
            if max(lo, hi) > kept:
                raise error(fn, f"circular padding wraps around more than once: padding "
                                f"({lo}, {hi}) at dim {d} is more than the {kept} element(s) "
                                f"it wraps", f"input {shape}")
        if out < (0 if mode == "constant" else 1):
            raise error(fn, f"the size {n} of dim {d} with padding ({lo}, {hi}) gives an "
                            f"output size of {out}", f"input {shape}, mode={mode!r}")
    check_numel(padded_shape(shape, pairs), fn, context=f"input {shape}, pad={pad}")
    return pairs


def pad(input, pad, mode="constant", value=None):
    """Pad (or, with negative pads, crop) the last dimensions of ``input``.

    ``pad`` lists the padding of the last dimension first, like torch:
    ``(left, right)`` pads the last dim, ``(left, right, top, bottom)`` the last two,
    ``(left, right, top, bottom, front, back)`` the last three.

    Args:
        input (Tensor): the tensor to pad.
        pad (tuple of ints): even length, at most ``2 * input.dim()``. Negative values crop.
        mode (str): ``'constant'`` (fill with ``value``), ``'reflect'`` (mirror without
            repeating the edge; each pad < the dim's size), ``'replicate'`` (repeat the edge)
            or ``'circular'`` (wrap around; each pad at most the dim's size). The last three
            pad the last 1, 2 or 3 dims of a 2-D/3-D, 3-D/4-D or 4-D/5-D input (unbatched or
            batched), as torch does. Default: ``'constant'``.
        value (float, optional): fill of ``'constant'`` mode. Default: 0.

    Shape:
        - Input: :math:`(*, D_1, \\ldots, D_k)` with ``k = len(pad) // 2``.
        - Output: :math:`(*, D_1 + p_1, \\ldots, D_k + p_k)`, ``p_i`` the sum of the two
          pads of dim ``i``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([[[1.0, 2.0, 3.0]]])
        >>> F.pad(x, (2, 1), mode="reflect").tolist()
        [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]]
        >>> F.pad(x, (1, -1), value=9.0).tolist()
        [[[9.0, 1.0, 2.0]]]
        >>> F.pad(svertka.ones(2, 3, 4, 5), (1, 1, 2, 2), mode="circular").shape
        svertka.Size([2, 3, 8, 7])
    """
    fn = "pad"
    check_tensor(input, "input", fn)
    if not isinstance(mode, str):
        raise type_error(fn, f"mode must be a str, got mode={_fmt(mode)}")
    pairs = _check_pad(pad, input, mode)
    if value is not None and (not isinstance(value, numbers.Real) or isinstance(value, bool)):
        raise type_error(fn, f"value must be a number, got value={_fmt(value)}")
    if mode != "constant" and value is not None and value != 0:
        raise error(fn, f"mode={mode!r} does not take a value, got value={value!r}")
    fill = 0 if value is None else value
    return Pad.apply(input, pads=pairs, mode=mode, value=fill)
