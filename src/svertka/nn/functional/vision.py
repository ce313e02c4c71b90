"""Vision functions with torch.nn.functional's names: ``pixel_shuffle``, ``pixel_unshuffle``,
``interpolate`` (and its aliases ``upsample``, ``upsample_nearest``, ``upsample_bilinear``).

Arguments are checked here; the ops are in ``svertka.ops.vision``.
"""

from __future__ import annotations

import math
import numbers

from svertka._validate import _fmt, check_numel, check_tensor, error, is_int, type_error
from svertka.ops.vision import Interpolate, PixelShuffle, PixelUnshuffle

__all__ = ["pixel_shuffle", "pixel_unshuffle", "interpolate", "upsample", "upsample_nearest",
           "upsample_bilinear"]


# ------------------------------------------------------------------------------ pixel shuffle

def _check_factor(fn, factor, name):
    if not is_int(factor):
        raise type_error(fn, f"{name} must be a positive int, got {name}={_fmt(factor)}")
    if not 1 <= factor <= 2**31:              # its square must fit in int64, as in torch
        raise error(fn, f"{name} must be a positive int, got {name}={factor}", "at most 2**31")
    return int(factor)


def _check_rank3(fn, input):
    check_tensor(input, "input", fn)
    if input.ndim < 3:
        raise error(fn, f"input must have at least 3 dimensions (*, C, H, W), got input of "
                        f"shape {tuple(input.shape)}")


def pixel_shuffle(input, upscale_factor):
    """Rearrange ``(*, C r^2, H, W)`` into ``(*, C, H r, W r)``: sub-pixel upsampling.

    Output element ``[..., c, h r + i, w r + j]`` is input element
    ``[..., c r^2 + i r + j, h, w]``.

    Args:
        input (Tensor): at least 3-D, channels (``-3``) divisible by ``upscale_factor ** 2``.
        upscale_factor (int): ``r``, positive.

    Shape:
        - Input: :math:`(*, C r^2, H, W)`
        - Output: :math:`(*, C, H r, W r)`

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.pixel_shuffle(svertka.ones(1, 9, 4, 4), 3).shape
        svertka.Size([1, 1, 12, 12])
        >>> F.pixel_shuffle(svertka.arange(4.0).reshape(4, 1, 1), 2).tolist()
        [[[0.0, 1.0], [2.0, 3.0]]]
    """
    fn = "pixel_shuffle"
    _check_rank3(fn, input)
    r = _check_factor(fn, upscale_factor, "upscale_factor")
    C = input.shape[-3]
    if C % (r * r):
        raise error(fn, f"the {C} channels of input (dim -3) must be divisible by "
                        f"upscale_factor**2 = {r * r}, got upscale_factor={r}",
                    f"input {tuple(input.shape)}")
    return PixelShuffle.apply(input, upscale_factor=r)


def pixel_unshuffle(input, downscale_factor):
    """Rearrange ``(*, C, H r, W r)`` into ``(*, C r^2, H, W)``: the inverse of
    ``pixel_shuffle``.

    Args:
        input (Tensor): at least 3-D, height and width divisible by ``downscale_factor``.
        downscale_factor (int): ``r``, positive.

    Shape:
        - Input: :math:`(*, C, H r, W r)`
        - Output: :math:`(*, C r^2, H, W)`

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.arange(8.0).reshape(2, 2, 2)
        >>> F.pixel_shuffle(F.pixel_unshuffle(x, 2), 2).equal(x)
        True
        >>> F.pixel_unshuffle(svertka.ones(2, 3, 6, 4), 2).shape
        svertka.Size([2, 12, 3, 2])
    """
    fn = "pixel_unshuffle"
    _check_rank3(fn, input)
    r = _check_factor(fn, downscale_factor, "downscale_factor")
    H, W = input.shape[-2:]
    for name, n in (("height", H), ("width", W)):
        if n % r:
            raise error(fn, f"input {name} {n} must be divisible by downscale_factor, got "
                            f"downscale_factor={r}", f"input {tuple(input.shape)}")
    return PixelUnshuffle.apply(input, downscale_factor=r)


# ------------------------------------------------------------------------------ interpolation

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear")
_LINEAR_RANK = {"linear": 3, "bilinear": 4, "trilinear": 5}


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _sizes(fn, input, size, scale_factor, recompute_scale_factor):
    """Output sizes and the scale factors the kernels use (``None`` when they use in/out)."""
    n = input.ndim - 2
    spatial = tuple(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise error(fn, f"only one of size or scale_factor should be defined, got size={size!r} "
                        f"and scale_factor={scale_factor!r}")
    if size is None and scale_factor is None:
        raise error(fn, "either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise error(fn, "recompute_scale_factor is not meaningful with an explicit size, "
                            f"got size={size!r}, recompute_scale_factor=True")
        if is_int(size):
            out = (int(size),) * n
        elif isinstance(size, (tuple, list)) and all(is_int(s) for s in size):
            if len(size) != n:
                raise error(fn, f"size must have {n} entries, one per spatial dim of the "
                                f"input, got size={tuple(size)}", f"input {tuple(input.shape)}")
            out = tuple(int(s) for s in size)
        else:
            raise type_error(fn, f"size must be an int or a tuple of {n} ints, got "
                                 f"size={_fmt(size)}")
        scales = None
    else:
        if _is_real(scale_factor):
            scales = (float(scale_factor),) * n
        elif isinstance(scale_factor, (tuple, list)) and all(_is_real(s) for s in scale_factor):
            if len(scale_factor) != n:
                raise error(fn, f"scale_factor must have {n} entries, one per spatial dim of "
                                f"the input, got scale_factor={tuple(scale_factor)}",
                            f"input {tuple(input.shape)}")
            scales = tuple(float(s) for s in scale_factor)
        else:
            raise type_error(fn, f"scale_factor must be a float or a tuple of {n} floats, got "
                                 f"scale_factor={_fmt(scale_factor)}")
        if not all(math.isfinite(s) and s > 0 for s in scales):
            raise error(fn, f"scale_factor must be positive and finite, got "
                            f"scale_factor={scale_factor!r}")
        if not all(math.isfinite(float(i) * s) for i, s in zip(spatial, scales)):
            raise error(fn, f"scale_factor is too large, got scale_factor={scale_factor!r}",
                        f"input {tuple(input.shape)}")
        out = tuple(math.floor(float(i) * s) for i, s in zip(spatial, scales))
        if recompute_scale_factor:
            scales = None
    if any(i < 1 for i in spatial) or any(o < 1 for o in out):
        raise error(fn, f"input and output sizes must be greater than 0, got input "
                        f"{spatial} and output {out}", f"input {tuple(input.shape)}")
    if input.shape[1] == 0:
        raise error(fn, f"input must have a non-zero channel size (only the batch may be "
                        f"empty), got input of shape {tuple(input.shape)}")
    check_numel(tuple(input.shape[:2]) + out, fn, context=f"input {tuple(input.shape)}")
    return out, scales


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of a batch by nearest or (bi/tri)linear interpolation.

    Args:
        input (Tensor): ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        size (int or tuple of ints, optional): output spatial size.
        scale_factor (float or tuple of floats, optional): multiplier of the spatial size;
            the output size is ``floor(in * scale_factor)``. Exactly one of ``size`` and
            ``scale_factor`` must be given.
        mode (str): ``'nearest'`` (torch's legacy rule, source ``floor(o * scale)``),
            ``'nearest-exact'`` (source ``floor((o + 0.5) * scale)``), ``'linear'`` (3-D),
            ``'bilinear'`` (4-D), ``'trilinear'`` (5-D). Default: ``'nearest'``.
        align_corners (bool, optional): linear modes only. ``True`` aligns the centres of the
            corner pixels (``scale = (in - 1) / (out - 1)``), ``False`` (default) their outer
            edges (source ``(o + 0.5) * scale - 0.5``, clamped at 0).
        recompute_scale_factor (bool, optional): with ``scale_factor``, ``True`` makes the
            kernels use ``in / out`` as the scale; otherwise they use ``1 / scale_factor``
            (which differs when ``in * scale_factor`` is not an integer), as torch does.
        antialias (bool): not supported; must be ``False``.

    Shape:
        - Input: :math:`(N, C, D_1, \\ldots, D_k)`, ``k`` in 1..3.
        - Output: :math:`(N, C, O_1, \\ldots, O_k)` with ``O_i = size[i]`` or
          ``floor(D_i * scale_factor[i])``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([[[1.0, 2.0]]])
        >>> F.interpolate(x, scale_factor=2).tolist()
        [[[1.0, 1.0, 2.0, 2.0]]]
        >>> F.interpolate(x, size=4, mode="linear", align_corners=False).tolist()
        [[[1.0, 1.25, 1.75, 2.0]]]
        >>> F.interpolate(svertka.ones(1, 3, 5, 6), scale_factor=1.7, mode="bilinear").shape
        svertka.Size([1, 3, 8, 10])
    """
    fn = "interpolate"
    check_tensor(input, "input", fn)
    if not isinstance(mode, str):
        raise type_error(fn, f"mode must be a str, got mode={_fmt(mode)}")
    if mode not in _MODES:
        raise error(fn, f"mode must be one of {', '.join(repr(m) for m in _MODES)}, got "
                        f"mode={_fmt(mode)}")
    if antialias:
        raise error(fn, f"antialias=True is not supported, got antialias={antialias!r}")
    if input.ndim not in (3, 4, 5):
        raise error(fn, f"input must be 3-D, 4-D or 5-D (N, C, spatial...), got input of shape "
                        f"{tuple(input.shape)}", f"mode={mode!r}")
    if mode in _LINEAR_RANK:
        if input.ndim != _LINEAR_RANK[mode]:
            raise error(fn, f"mode={mode!r} needs a {_LINEAR_RANK[mode]}-D input, got input of "
                            f"shape {tuple(input.shape)}")
        if align_corners is None:
            align_corners = False
        elif not isinstance(align_corners, bool):
            raise type_error(fn, f"align_corners must be a bool or None, got "
                                 f"align_corners={_fmt(align_corners)}")
    elif align_corners is not None:
        raise error(fn, f"align_corners can only be set with the linear modes ('linear', "
                        f"'bilinear', 'trilinear'), got align_corners={align_corners!r} with "
                        f"mode={mode!r}")
    if mode in _LINEAR_RANK and input._data.dtype.kind != "f":
        raise type_error(fn, f"mode={mode!r} needs a floating-point input, got input of dtype "
                             f"{input._data.dtype}")
    out, scales = _sizes(fn, input, size, scale_factor, recompute_scale_factor)
    if scales is not None and (mode in _LINEAR_RANK or (mode == "nearest" and input.ndim == 4)):
        # torch's linear kernels, and its 2-D nearest one, copy an axis whose size does not
        # change, ignoring a scale factor like 1.1 that keeps it (the 1-D and 3-D nearest and
        # the nearest-exact kernels apply the 1 / scale_factor rule even then)
        scales = tuple(None if o == i else s for o, i, s in zip(out, input.shape[2:], scales))
    return Interpolate.apply(input, size=out, mode="linear" if mode in _LINEAR_RANK else mode,
                             align_corners=bool(align_corners), scale_factors=scales)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Alias of ``interpolate`` (torch's deprecated name).

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.upsample(svertka.ones(1, 1, 2, 3), scale_factor=2).shape
        svertka.Size([1, 1, 4, 6])
    """
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(input, size, scale_factor, mode='nearest')`` (torch's deprecated name).

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.upsample_nearest(svertka.ones(1, 1, 2, 3), size=(3, 3)).shape
        svertka.Size([1, 1, 3, 3])
    """
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)``
    (torch's deprecated name; note the aligned corners).

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.upsample_bilinear(svertka.tensor([[[[0.0, 3.0]]]]), size=(1, 4)).tolist()
        [[[[0.0, 1.0, 2.0, 3.0]]]]
    """
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
