"""Image transforms with torchvision's names and arguments (``torchvision.transforms``).

Transforms work on images as svertka's datasets hand them out: ``(H, W, C)`` (or ``(H, W)``)
uint8 NumPy arrays, svertka's stand-in for PIL images. Where torchvision accepts tensors, they
also work on float ``Tensor``\\ s of shape ``(..., H, W)`` (``(C, H, W)`` after ``ToTensor``);
results on tensors are new tensors without autograd history (transforms prepare data).

Random transforms draw from :func:`svertka.random.get_rng`, so ``svertka.manual_seed`` (and the
DataLoader, which seeds it per batch) makes augmentation reproducible.

Geometry follows torchvision's PIL path for arrays: pixel ``(row, col)`` covers the square
``[row, row + 1) x [col, col + 1)``, rotations and affine maps turn about the image centre
``(W / 2, H / 2)``, and every output pixel centre is mapped back into the input (an inverse
map), then sampled (nearest or bilinear) in one vectorized gather.

Examples::

    >>> import numpy as np
    >>> import svertka
    >>> from svertka.data import transforms as T
    >>> svertka.manual_seed(0)  # doctest: +ELLIPSIS
    Generator(PCG64) at 0x...
    >>> augment = T.Compose([T.RandomCrop(28, padding=4), T.RandomHorizontalFlip(),
    ...                      T.ToTensor(), T.Normalize((0.5,), (0.5,))])
    >>> x = augment(np.zeros((28, 28, 1), dtype=np.uint8))
    >>> x.shape, x.dtype
    (svertka.Size([1, 28, 28]), svertka.float32)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from svertka._validate import _fmt, error, is_int, type_error
from svertka.random import get_rng
from svertka.tensor import Tensor

__all__ = [
    "Compose", "ToTensor", "Normalize", "Pad", "RandomCrop", "CenterCrop",
    "RandomHorizontalFlip", "RandomVerticalFlip", "Resize", "RandomRotation", "RandomAffine",
    "Lambda", "RandomApply", "ColorJitter",
    "to_tensor", "normalize", "pad", "crop", "center_crop", "hflip", "vflip", "resize",
    "rotate", "affine",
]

_PAD_MODES = ("constant", "edge", "reflect", "symmetric")
_INTERPOLATIONS = ("nearest", "bilinear")


# ---------------------------------------------------------------------------- helpers
def _planes(img, fn):
    """``(x, back)``: the image as an ndarray ``(..., H, W)`` (channels first, a view) and a
    function turning a result of that layout back into the caller's kind and layout."""
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise error(fn, f"a tensor image must have at least 2 dimensions (..., H, W), got "
                            f"shape {tuple(img.shape)}")
        return img._data, lambda y: Tensor._make(np.ascontiguousarray(y))
    if isinstance(img, np.ndarray):
        if img.ndim == 2:
            return img, np.ascontiguousarray
        if img.ndim == 3:
            return (np.moveaxis(img, 2, 0),                           # (C, H, W) view
                    lambda y: np.ascontiguousarray(np.moveaxis(y, 0, 2)))
        raise error(fn, f"an image array must be (H, W) or (H, W, C), got shape {img.shape}")
    raise type_error(fn, f"img must be an (H, W, C) ndarray or a Tensor, got "
                         f"{type(img).__name__}")


def _size_hw(img, fn):
    x, _ = _planes(img, fn)
    return x.shape[-2], x.shape[-1]


def _fill_value(fill, x, fn):
    """``fill`` as a scalar or a ``(C, 1, 1)`` array in ``x``'s dtype."""
    if fill is None:
        fill = 0
    if isinstance(fill, numbers.Real) and not isinstance(fill, bool):
        return np.asarray(fill).astype(x.dtype)
    if isinstance(fill, (tuple, list)) and all(isinstance(v, numbers.Real) for v in fill):
        channels = x.shape[-3] if x.ndim >= 3 else 1
        if len(fill) == 1:
            return np.asarray(fill[0]).astype(x.dtype)
        if len(fill) != channels:
            raise error(fn, f"fill must be a number or a sequence of one value per channel "
                            f"({channels}), got fill={_fmt(fill)}")
        return np.asarray(fill).astype(x.dtype).reshape(channels, 1, 1)
    raise type_error(fn, f"fill must be a number or a sequence of numbers, got "
                         f"fill={_fmt(fill)}")


def _crop_size(size, fn, name="size"):
    """int, or a sequence of 1 or 2 positive ints -> ``(h, w)``."""
    if is_int(size):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) in (1, 2) and all(is_int(s) for s in size):
        size = (int(size[0]), int(size[-1]))
    else:
        raise error(fn, f"{name} must be an int or a sequence of 1 or 2 ints, got "
                        f"{name}={_fmt(size)}")
    if min(size) <= 0:
        raise error(fn, f"{name} must be positive, got {name}={_fmt(size)}")
    return size


def _padding_ltrb(padding, fn):
    """torchvision's padding: int (all sides), (left/right, top/bottom) or (l, t, r, b)."""
    if is_int(padding):
        ltrb = (int(padding),) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) in (1, 2, 4) and \
            all(is_int(p) for p in padding):
        p = [int(v) for v in padding]
        ltrb = tuple(p * 4) if len(p) == 1 else tuple(p * 2) if len(p) == 2 else tuple(p)
    else:
        raise type_error(fn, f"padding must be an int or a sequence of 1, 2 or 4 ints, got "
                             f"padding={_fmt(padding)}")
    if min(ltrb) < 0:
        raise error(fn, f"padding must be non-negative, got padding={_fmt(padding)}")
    return ltrb


def _check_p(p, fn):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= float(p) <= 1.0:
        raise error(fn, f"p must be a probability in [0, 1], got p={_fmt(p)}")
    return float(p)


def _range(value, name, fn, center=0.0, bound=None):
    """A number ``v`` -> ``(center - v, center + v)`` (``v >= 0``); a pair -> itself."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value < 0:
            raise error(fn, f"if {name} is a single number, it must be non-negative, got "
                            f"{name}={_fmt(value)}")
        lo, hi = center - float(value), center + float(value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and \
            all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
        lo, hi = float(value[0]), float(value[1])
        if lo > hi:
            raise error(fn, f"{name} must be (min, max) with min <= max, got "
                            f"{name}={_fmt(value)}")
    else:
        raise type_error(fn, f"{name} must be a number or a sequence of 2 numbers, got "
                             f"{name}={_fmt(value)}")
    if bound is not None:
        lo = max(lo, bound)
    return [lo, hi]


# ---------------------------------------------------------------------------- functional
def to_tensor(pic):
    """``(H, W, C)`` / ``(H, W)`` array -> ``(C, H, W)`` tensor; uint8 is scaled to [0, 1]
    float32, other dtypes keep their values and dtype (as torchvision)."""
    if not isinstance(pic, np.ndarray):
        raise type_error("to_tensor", f"pic must be an ndarray (H, W[, C]), got "
                                      f"{type(pic).__name__}")
    if pic.ndim not in (2, 3):
        raise error("to_tensor", f"pic must be 2-D (H, W) or 3-D (H, W, C), got shape "
                                 f"{pic.shape}")
    x = pic[:, :, None] if pic.ndim == 2 else pic
    x = np.ascontiguousarray(x.transpose(2, 0, 1))                    # (C, H, W)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / np.float32(255)
    return Tensor._make(x)


def normalize(tensor, mean, std, inplace=False):
    """``(tensor - mean) / std`` per channel of a float ``(..., C, H, W)`` tensor."""
    fn = "normalize"
    if not isinstance(tensor, Tensor):
        raise type_error(fn, f"tensor must be a Tensor (use ToTensor first), got "
                             f"{type(tensor).__name__}")
    x = tensor._data
    if x.dtype.kind != "f":
        raise type_error(fn, f"tensor must be a floating-point tensor, got {x.dtype}")
    if x.ndim < 3:
        raise error(fn, f"tensor must be (..., C, H, W), got shape {tuple(x.shape)}")
    mean = np.asarray(mean, dtype=x.dtype).reshape(-1)
    std = np.asarray(std, dtype=x.dtype).reshape(-1)
    channels = x.shape[-3]
    for name, v in (("mean", mean), ("std", std)):
        if v.size not in (1, channels):
            raise error(fn, f"{name} has {v.size} values but the tensor has {channels} "
                            f"channels (shape {tuple(x.shape)})")
    if np.any(std == 0):
        raise error(fn, f"std evaluated to zero after conversion to {x.dtype}, leading to "
                        f"division by zero, got std={_fmt(std.tolist())}")
    mean, std = mean.reshape(-1, 1, 1), std.reshape(-1, 1, 1)
    if inplace:
        np.subtract(x, mean, out=x)
        np.divide(x, std, out=x)
        tensor._version[0] += 1
        return tensor
    return Tensor._make((x - mean) / std)


def hflip(img):
    """Mirror left-right."""
    x, back = _planes(img, "hflip")
    return back(x[..., ::-1])


def vflip(img):
    """Mirror top-bottom."""
    x, back = _planes(img, "vflip")
    return back(x[..., ::-1, :])


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the borders: ``padding`` int, ``(left/right, top/bottom)`` or ``(l, t, r, b)``;
    modes as ``np.pad``'s ``constant``, ``edge``, ``reflect`` and ``symmetric``."""
    fn = "pad"
    left, top, right, bottom = _padding_ltrb(padding, fn)
    if padding_mode not in _PAD_MODES:
        raise error(fn, f"padding_mode must be one of {', '.join(map(repr, _PAD_MODES))}, "
                        f"got padding_mode={_fmt(padding_mode)}")
    x, back = _planes(img, fn)
    h, w = x.shape[-2:]
    if padding_mode == "constant":
        out = np.empty(x.shape[:-2] + (h + top + bottom, w + left + right), dtype=x.dtype)
        out[...] = _fill_value(fill, x, fn)
        out[..., top:top + h, left:left + w] = x
        return back(out)
    if padding_mode == "reflect" and (h < 2 and top + bottom or w < 2 and left + right):
        raise error(fn, f"reflect padding needs at least 2 pixels along a padded side, got "
                        f"an image of {h}x{w}")
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    return back(np.pad(x, widths, mode=padding_mode))


def crop(img, top, left, height, width):
    """The ``height x width`` window at ``(top, left)``; parts outside the image are 0."""
    x, back = _planes(img, "crop")
    h, w = x.shape[-2:]
    if top >= 0 and left >= 0 and top + height <= h and left + width <= w:
        return back(x[..., top:top + height, left:left + width])
    out = np.zeros(x.shape[:-2] + (height, width), dtype=x.dtype)
    r0, r1 = max(top, 0), min(top + height, h)
    c0, c1 = max(left, 0), min(left + width, w)
    if r0 < r1 and c0 < c1:
        out[..., r0 - top:r1 - top, c0 - left:c1 - left] = x[..., r0:r1, c0:c1]
    return back(out)


def center_crop(img, output_size):
    """The centred ``output_size`` window (zero padding where it exceeds the image)."""
    th, tw = _crop_size(output_size, "center_crop", "output_size")
    h, w = _size_hw(img, "center_crop")
    if th > h or tw > w:  # torchvision pads with zeros first, the extra pixel at the end
        pw, ph = max(tw - w, 0), max(th - h, 0)
        img = pad(img, (pw // 2, ph // 2, (pw + 1) // 2, (ph + 1) // 2))
        h, w = _size_hw(img, "center_crop")
    # torchvision rounds half to even (Python's round) for the offset
    return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


def _resized_hw(h, w, size, max_size, fn):
    if is_int(size) or (isinstance(size, (tuple, list)) and len(size) == 1):
        s = _crop_size(size, fn)[0]
        short, long = (h, w) if h <= w else (w, h)
        new_short, new_long = s, int(s * long / short)
        if max_size is not None:
            if max_size <= s:
                raise error(fn, f"max_size must be strictly greater than the requested size "
                                f"for the smaller edge, got size={s}, max_size={max_size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_short, new_long) if h <= w else (new_long, new_short)
    if max_size is not None:
        raise error(fn, f"max_size is only supported when size is an int (the smaller edge), "
                        f"got size={_fmt(size)}")
    return _crop_size(size, fn)


def resize(img, size, interpolation="bilinear", max_size=None):
    """Resize to ``size`` (an int sets the smaller edge, keeping the aspect ratio).

    ``bilinear`` samples at pixel centres (``align_corners=False``) without antialiasing,
    so strong downscaling aliases (torchvision's PIL path and ``antialias=True`` low-pass
    first). ``nearest`` picks ``floor((i + 0.5) * in / out)`` for arrays (PIL's rule) and
    ``floor(i * in / out)`` for tensors (``torch.nn.functional.interpolate``'s rule).
    """
    fn = "resize"
    if interpolation not in _INTERPOLATIONS:
        raise error(fn, f"interpolation must be one of 'nearest', 'bilinear', got "
                        f"interpolation={_fmt(interpolation)}")
    x, back = _planes(img, fn)
    h, w = x.shape[-2:]
    oh, ow = _resized_hw(h, w, size, max_size, fn)
    if (oh, ow) == (h, w):
        return back(x.copy())
    if interpolation == "nearest":
        offset = 0.5 if isinstance(img, np.ndarray) else 0.0
        rows = np.minimum(((np.arange(oh) + offset) * (h / oh)).astype(np.int64), h - 1)
        cols = np.minimum(((np.arange(ow) + offset) * (w / ow)).astype(np.int64), w - 1)
        return back(x[..., rows[:, None], cols[None, :]])
    ftype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)

    def taps(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        i0 = np.minimum(src.astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (src - i0).astype(ftype)

    r0, r1, wr = taps(h, oh)
    c0, c1, wc = taps(w, ow)
    xf = x.astype(ftype, copy=False)
    rows = xf[..., r0, :] * (1 - wr)[:, None] + xf[..., r1, :] * wr[:, None]   # (..., oh, w)
    out = rows[..., c0] * (1 - wc) + rows[..., c1] * wc                       # (..., oh, ow)
    return back(_cast_like(out, x.dtype))


def _cast_like(y, dtype):
    if dtype.kind == "f":
        return y.astype(dtype, copy=False)
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    y = np.rint(y)
    if info is not None:
        y = np.clip(y, info.min, info.max)
    return y.astype(dtype)


def _inverse_affine_matrix(center, angle, translate, scale, shear):
    """torchvision's ``_get_inverse_affine_matrix``: the 2x3 map from output to input
    coordinates of ``T * C * R(angle) * S(scale) * Shear * C^-1`` (angle, shear in degrees)."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
    m = [round(v, 15) for v in m]  # as PIL: exact quarter turns stay exact
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    return m


def _warp(img, matrix, interpolation, fill, fn):
    """Sample ``img`` at the input points the inverse ``matrix`` assigns to every output
    pixel centre; points outside the image take ``fill``."""
    if interpolation not in _INTERPOLATIONS:
        raise error(fn, f"interpolation must be one of 'nearest', 'bilinear', got "
                        f"interpolation={_fmt(interpolation)}")
    x, back = _planes(img, fn)
    h, w = x.shape[-2:]
    fillv = _fill_value(fill, x, fn)
    ys, xs = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")  # (H, W)
    u = matrix[0] * xs + matrix[1] * ys + matrix[2]                               # columns
    v = matrix[3] * xs + matrix[4] * ys + matrix[5]                               # rows
    if interpolation == "nearest":
        iu, iv = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
        inside = (iu >= 0) & (iu < w) & (iv >= 0) & (iv < h)
        out = x[..., np.clip(iv, 0, h - 1), np.clip(iu, 0, w - 1)]                # (..., H, W)
        return back(np.where(inside, out, fillv).astype(x.dtype, copy=False))
    ftype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    u, v = u - 0.5, v - 0.5                      # to pixel-index coordinates
    u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fu, fv = (u - u0).astype(ftype), (v - v0).astype(ftype)
    xf = x.astype(ftype, copy=False)
    fillf = fillv.astype(ftype)
    out = 0
    for dv, wv in ((0, 1 - fv), (1, fv)):
        for du, wu in ((0, 1 - fu), (1, fu)):
            r, c = v0 + dv, u0 + du
            inside = (c >= 0) & (c < w) & (r >= 0) & (r < h)
            tap = np.where(inside, xf[..., np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)], fillf)
            out = out + tap * (wv * wu)
    return back(_cast_like(out, x.dtype))


def rotate(img, angle, interpolation="nearest", fill=0):
    """Rotate by ``angle`` degrees counter-clockwise about the centre (same size)."""
    h, w = _size_hw(img, "rotate")
    m = _inverse_affine_matrix((w * 0.5, h * 0.5), -float(angle), (0.0, 0.0), 1.0, (0.0, 0.0))
    return _warp(img, m, interpolation, fill, "rotate")


def affine(img, angle, translate, scale, shear, interpolation="nearest", fill=0):
    """torchvision's ``F.affine``: rotate ``angle`` degrees (clockwise, as torchvision's
    affine), scale, shear ``(sx, sy)`` degrees, then translate ``(tx, ty)`` pixels."""
    h, w = _size_hw(img, "affine")
    if isinstance(shear, numbers.Real):
        shear = (float(shear), 0.0)
    m = _inverse_affine_matrix((w * 0.5, h * 0.5), float(angle), translate, float(scale),
                               shear)
    return _warp(img, m, interpolation, fill, "affine")


# ---------------------------------------------------------------------------- transforms
class Compose:
    """Apply ``transforms`` one after the other.

    Examples::

        >>> from svertka.data import transforms as T
        >>> T.Compose([T.CenterCrop(24), T.ToTensor()])
        Compose(
            CenterCrop(size=(24, 24))
            ToTensor()
        )
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise type_error("Compose", f"every transform must be callable, got "
                                            f"{type(t).__name__}")

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class ToTensor:
    """``(H, W, C)`` uint8 array -> ``(C, H, W)`` float32 tensor in [0, 1] (float arrays
    are transposed, not rescaled, as torchvision).

    Examples::

        >>> import numpy as np
        >>> from svertka.data.transforms import ToTensor
        >>> ToTensor()(np.full((2, 3, 1), 255, dtype=np.uint8))
        tensor([[[1., 1., 1.],
                 [1., 1., 1.]]])
    """

    def __call__(self, pic):
        return to_tensor(pic)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Normalize:
    """``(x - mean[c]) / std[c]`` for each channel ``c`` of a float ``(C, H, W)`` tensor.

    Args:
        mean, std: one value per channel (or one value for all).
        inplace: overwrite the input tensor.

    Examples::

        >>> import svertka
        >>> from svertka.data.transforms import Normalize
        >>> Normalize((0.5,), (0.25,))(svertka.ones(1, 1, 2))
        tensor([[[2., 2.]]])
    """

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        return normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


def batch_transform(transform):
    """``transform`` as one function of a whole batch of images ``(N, H, W, C)``, giving the
    stacked ``(N, C, H, W)`` tensor of its per-image results; None where that is not known.

    Known: ``ToTensor`` followed by any number of ``Normalize`` (alone or in a ``Compose``),
    the deterministic per-pixel recipe of in-memory image datasets. Random, geometric and
    user transforms run per image. Every element goes through the same float32 operations
    as on the per-image path, so the batch is bit-identical to stacking the images.

    >>> import numpy as np
    >>> from svertka.data import transforms as T
    >>> tf = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.25,))])
    >>> imgs = np.arange(8, dtype=np.uint8).reshape(2, 2, 2, 1)
    >>> bool((batch_transform(tf)(imgs).numpy() == np.stack([tf(i).numpy() for i in imgs])).all())
    True
    >>> batch_transform(T.RandomHorizontalFlip()) is None
    True
    """
    steps = transform.transforms if type(transform) is Compose else [transform]
    if not steps or type(steps[0]) is not ToTensor or \
            any(type(t) is not Normalize for t in steps[1:]):
        return None

    def apply(images):                                            # (N, H, W, C)
        x = np.ascontiguousarray(images.transpose(0, 3, 1, 2))   # (N, C, H, W)
        if x.dtype == np.uint8:
            x = x.astype(np.float32) / np.float32(255)
        out = Tensor._make(x)
        for t in steps[1:]:
            out = t(out)
        return out

    return apply


class Pad:
    """Pad the borders (see :func:`pad`): ``padding_mode`` ``'constant'`` (with ``fill``, a
    number or one per channel), ``'edge'``, ``'reflect'`` or ``'symmetric'``.

    Examples::

        >>> import numpy as np
        >>> from svertka.data.transforms import Pad
        >>> Pad((1, 2), padding_mode="edge")(np.zeros((4, 4, 3), dtype=np.uint8)).shape
        (8, 6, 3)
    """

    def __init__(self, padding, fill=0, padding_mode="constant"):
        _padding_ltrb(padding, "Pad")
        if padding_mode not in _PAD_MODES:
            raise error("Pad", f"padding_mode must be one of "
                               f"{', '.join(map(repr, _PAD_MODES))}, got "
                               f"padding_mode={_fmt(padding_mode)}")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img):
        return pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self):
        return (f"{type(self).__name__}(padding={self.padding}, fill={self.fill}, "
                f"padding_mode={self.padding_mode})")


class RandomCrop:
    """Crop a random ``size`` window, after optional ``padding`` (see :class:`Pad`).

    Args:
        size: int or ``(h, w)``.
        padding: padded onto every image first (the CIFAR recipe uses 4).
        pad_if_needed: pad images smaller than ``size`` so the crop fits.
        fill, padding_mode: as :class:`Pad`.

    Examples::

        >>> import numpy as np
        >>> from svertka.data.transforms import RandomCrop
        >>> RandomCrop(32, padding=4)(np.zeros((32, 32, 3), dtype=np.uint8)).shape
        (32, 32, 3)
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0,
                 padding_mode="constant"):
        self.size = _crop_size(size, "RandomCrop")
        if padding is not None:
            _padding_ltrb(padding, "RandomCrop")
        if padding_mode not in _PAD_MODES:
            raise error("RandomCrop", f"padding_mode must be one of "
                                      f"{', '.join(map(repr, _PAD_MODES))}, got "
                                      f"padding_mode={_fmt(padding_mode)}")
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, img):
        if self.padding is not None:
            img = pad(img, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = _size_hw(img, "RandomCrop")
        if self.pad_if_needed and w < tw:
            img = pad(img, (tw - w, 0), self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            img = pad(img, (0, th - h), self.fill, self.padding_mode)
        h, w = _size_hw(img, "RandomCrop")
        if h < th or w < tw:
            raise error("RandomCrop", f"required crop size {(th, tw)} is larger than the "
                                      f"input image size {(h, w)}",
                        "pass pad_if_needed=True or padding")
        rng = get_rng()
        top = int(rng.integers(0, h - th + 1))
        left = int(rng.integers(0, w - tw + 1))
        return crop(img, top, left, th, tw)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class CenterCrop:
    """Crop the centre ``size`` window (zero-padded where larger than the image)."""

    def __init__(self, size):
        self.size = _crop_size(size, "CenterCrop")

    def __call__(self, img):
        return center_crop(img, self.size)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p``.

    Examples::

        >>> import numpy as np
        >>> from svertka.data.transforms import RandomHorizontalFlip
        >>> RandomHorizontalFlip(p=1.0)(np.arange(3, dtype=np.uint8).reshape(1, 3, 1))[0, :, 0]
        array([2, 1, 0], dtype=uint8)
    """

    _flip = staticmethod(hflip)

    def __init__(self, p=0.5):
        self.p = _check_p(p, type(self).__name__)

    def __call__(self, img):
        if get_rng().random() < self.p:
            return self._flip(img)
        return img

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    _flip = staticmethod(vflip)


class Resize:
    """Resize to ``size``: ``(h, w)``, or an int for the smaller edge (aspect ratio kept,
    longer edge ``int(size * long / short)``, capped by ``max_size``), as torchvision.

    ``interpolation`` is ``'bilinear'`` (default) or ``'nearest'``; bilinear does not
    antialias (see :func:`resize`), so prefer modest downscaling factors.

    Examples::

        >>> import numpy as np
        >>> from svertka.data.transforms import Resize
        >>> Resize(16)(np.zeros((32, 48, 3), dtype=np.uint8)).shape
        (16, 24, 3)
    """

    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=None):
        if is_int(size) or (isinstance(size, (tuple, list)) and len(size) in (1, 2)):
            _crop_size(size, "Resize")
        else:
            raise type_error("Resize", f"size must be an int or a sequence of 1 or 2 ints, "
                                       f"got size={_fmt(size)}")
        if interpolation not in _INTERPOLATIONS:
            raise error("Resize", f"interpolation must be one of 'nearest', 'bilinear', got "
                                  f"interpolation={_fmt(interpolation)}")
        if antialias:
            raise error("Resize", "antialias=True is not supported (bilinear samples without "
                                  "a low-pass filter), got antialias=True")
        self.size, self.interpolation, self.max_size = size, interpolation, max_size

    def __call__(self, img):
        return resize(img, self.size, self.interpolation, self.max_size)

    def __repr__(self):
        return (f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation},"
                f" max_size={self.max_size}, antialias=False)")


class RandomRotation:
    """Rotate by an angle drawn uniformly from ``degrees`` (``d`` means ``(-d, d)``),
    counter-clockwise for positive angles, about the centre, keeping the size; corners
    that come from outside the image take ``fill``.

    Examples::

        >>> import numpy as np
        >>> from svertka.data.transforms import RandomRotation
        >>> img = np.arange(4, dtype=np.uint8).reshape(2, 2, 1)
        >>> RandomRotation((90, 90))(img)[..., 0]  # a quarter turn
        array([[1, 3],
               [0, 2]], dtype=uint8)
    """

    def __init__(self, degrees, interpolation="nearest", expand=False, center=None, fill=0):
        self.degrees = _range(degrees, "degrees", "RandomRotation")
        if interpolation not in _INTERPOLATIONS:
            raise error("RandomRotation", f"interpolation must be one of 'nearest', "
                                          f"'bilinear', got interpolation={_fmt(interpolation)}")
        if expand or center is not None:
            raise error("RandomRotation", "expand=True and center are not supported, got "
                                          f"expand={expand!r}, center={center!r}")
        self.interpolation, self.fill = interpolation, fill

    def __call__(self, img):
        angle = float(get_rng().uniform(self.degrees[0], self.degrees[1]))
        return rotate(img, angle, self.interpolation, self.fill)

    def __repr__(self):
        return (f"{type(self).__name__}(degrees={self.degrees}, "
                f"interpolation={self.interpolation}, expand=False, fill={self.fill})")


class RandomAffine:
    """A random affine map about the centre, as torchvision's ``RandomAffine``.

    Args:
        degrees: rotation range (``d`` means ``(-d, d)``; clockwise for positive angles, as
            torchvision's affine).
        translate: ``(a, b)``: shifts drawn from ``[-a * W, a * W]`` and ``[-b * H, b * H]``,
            rounded to whole pixels.
        scale: ``(lo, hi)`` scale range.
        shear: ``s`` (x shear in ``(-s, s)``), ``(lo, hi)`` (x) or ``(xlo, xhi, ylo, yhi)``.
        interpolation: ``'nearest'`` (default) or ``'bilinear'``.
        fill: value of pixels that come from outside the image.

    Examples::

        >>> import numpy as np
        >>> from svertka.data.transforms import RandomAffine
        >>> RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1))(
        ...     np.zeros((8, 8, 1), dtype=np.uint8)).shape
        (8, 8, 1)
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation="nearest", fill=0, center=None):
        fn = "RandomAffine"
        self.degrees = _range(degrees, "degrees", fn)
        if translate is not None:
            if not (isinstance(translate, (tuple, list)) and len(translate) == 2) or not all(
                    isinstance(t, numbers.Real) and 0.0 <= t <= 1.0 for t in translate):
                raise error(fn, f"translate must be a pair of fractions in [0, 1], got "
                                f"translate={_fmt(translate)}")
        if scale is not None:
            if not (isinstance(scale, (tuple, list)) and len(scale) == 2) or not all(
                    isinstance(s, numbers.Real) and s > 0 for s in scale) or scale[0] > scale[1]:
                raise error(fn, f"scale must be a pair (lo, hi) of positive numbers with "
                                f"lo <= hi, got scale={_fmt(scale)}")
        if shear is not None:
            if isinstance(shear, (tuple, list)) and len(shear) == 4:
                shear = _range(shear[:2], "shear", fn) + _range(shear[2:], "shear", fn)
            else:
                shear = _range(shear, "shear", fn)
        if interpolation not in _INTERPOLATIONS:
            raise error(fn, f"interpolation must be one of 'nearest', 'bilinear', got "
                            f"interpolation={_fmt(interpolation)}")
        if center is not None:
            raise error(fn, f"center is not supported, got center={center!r}")
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation, self.fill = interpolation, fill

    def get_params(self, img_size):
        """``(angle, (tx, ty), scale, (shear_x, shear_y))`` for an image of ``(H, W)``."""
        rng = get_rng()
        h, w = img_size
        angle = float(rng.uniform(self.degrees[0], self.degrees[1]))
        tx = ty = 0
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * w, self.translate[1] * h
            tx = int(round(float(rng.uniform(-max_dx, max_dx))))
            ty = int(round(float(rng.uniform(-max_dy, max_dy))))
        scale = 1.0 if self.scale is None else float(rng.uniform(*self.scale))
        shear_x = shear_y = 0.0
        if self.shear is not None:
            shear_x = float(rng.uniform(self.shear[0], self.shear[1]))
            if len(self.shear) == 4:
                shear_y = float(rng.uniform(self.shear[2], self.shear[3]))
        return angle, (tx, ty), scale, (shear_x, shear_y)

    def __call__(self, img):
        angle, translate, scale, shear = self.get_params(_size_hw(img, "RandomAffine"))
        return affine(img, angle, translate, scale, shear, self.interpolation, self.fill)

    def __repr__(self):
        s = f"{type(self).__name__}(degrees={self.degrees}"
        for name in ("translate", "scale", "shear"):
            if getattr(self, name) is not None:
                s += f", {name}={getattr(self, name)}"
        if self.interpolation != "nearest":
            s += f", interpolation={self.interpolation}"
        if self.fill != 0:
            s += f", fill={self.fill}"
        return s + ")"


class Lambda:
    """Apply a user function ``lambd`` as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise type_error("Lambda", f"lambd must be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{type(self).__name__}()"


class RandomApply:
    """Apply the list ``transforms`` (in order) with probability ``p``, else nothing."""

    def __init__(self, transforms, p=0.5):
        self.transforms = list(transforms)
        self.p = _check_p(p, "RandomApply")

    def __call__(self, img):
        if self.p < get_rng().random():
            return img
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}(\n    p={self.p}{body}\n)"


class ColorJitter:
    """Random brightness and contrast, in a random order (torchvision's ``ColorJitter``
    restricted to those two).

    ``brightness`` ``b`` scales pixels by a factor from ``[max(0, 1 - b), 1 + b]``;
    ``contrast`` ``c`` blends each image with its mean grey level (ITU-R 601-2 luma) by a
    factor from ``[max(0, 1 - c), 1 + c]``; a pair gives the factor range itself. Values are
    clipped to the image range (255 for uint8 arrays, 1 for float tensors).
    """

    def __init__(self, brightness=0, contrast=0):
        self.brightness = self._factors(brightness, "brightness")
        self.contrast = self._factors(contrast, "contrast")

    @staticmethod
    def _factors(value, name):
        rng = _range(value, name, "ColorJitter", center=1.0, bound=0.0)
        return None if rng == [1.0, 1.0] else rng

    def __call__(self, img):
        x, back = _planes(img, "ColorJitter")
        top = 255.0 if x.dtype == np.uint8 else 1.0
        ftype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        y = x.astype(ftype)
        rng = get_rng()
        for which in rng.permutation(2):
            if which == 0 and self.brightness is not None:
                y = np.clip(y * ftype.type(rng.uniform(*self.brightness)), 0, top)
            elif which == 1 and self.contrast is not None:
                factor = ftype.type(rng.uniform(*self.contrast))
                if y.ndim >= 3 and y.shape[-3] == 3:
                    grey = (0.299 * y[..., 0, :, :] + 0.587 * y[..., 1, :, :]
                            + 0.114 * y[..., 2, :, :])
                else:
                    grey = y
                if x.dtype == np.uint8:
                    grey = np.floor(grey)  # PIL converts to an integer grey image first
                mean = grey.mean(axis=(-2, -1), keepdims=True).astype(ftype)
                if y.ndim >= 3:
                    mean = mean[..., None, :, :] if grey.ndim == y.ndim - 1 else mean
                y = np.clip(factor * y + (1 - factor) * mean, 0, top)
        return back(_cast_like(y, x.dtype))

    def __repr__(self):
        return (f"{type(self).__name__}(brightness={self.brightness}, "
                f"contrast={self.contrast})")
