"""Padding modes and their adjoints: 'constant', 'reflect', 'replicate', 'circular'.

Legend: ``x`` the input, ``gy`` the gradient of the padded output, ``gx`` the gradient of
the input; ``pads`` is a sequence of ``(lo, hi)`` pairs, one per trailing axis of ``x``, in
axis order (the first pair pads axis ``x.ndim - len(pads)``). A negative ``lo`` or ``hi``
crops that side. Along one axis of size ``W`` the output position ``j`` reads the virtual
position ``p = j - lo`` of the input, ``p`` in ``[-lo, W + hi)``:

* ``constant``: ``x[p]`` inside, ``value`` outside;
* ``reflect``: ``x[-p]`` for ``p < 0``, ``x[2 (W - 1) - p]`` for ``p >= W`` (edge not repeated;
  both pads must be < W);
* ``replicate``: ``x[clip(p, 0, W - 1)]``;
* ``circular``: the negative pads crop first, then the cropped row of length ``Wc`` wraps
  (``p mod Wc``; pads at most ``Wc``), as torch does.

The forward gathers along each axis in turn (``np.take``); the adjoint ``pad_backward``
folds the padded borders back onto the input by adding reversed or wrapped slices (or the
border's sum, for 'replicate'), one axis at a time: no per-element loops, no ``np.add.at``.
These kernels also serve the conv modules' ``padding_mode``.
"""

from __future__ import annotations

import numpy as np

from svertka.kernels.window import pad_constant

MODES = ("constant", "reflect", "replicate", "circular")


def pairs_from_torch(pad):
    """torch's flat pad tuple (last axis first) as ``(lo, hi)`` pairs in axis order.

    >>> pairs_from_torch((1, 2, 3, 4))       # (left, right, top, bottom)
    ((3, 4), (1, 2))
    """
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)]
    return tuple(reversed(pairs))


def padded_shape(shape, pads):
    """The output shape: each trailing axis grows by ``lo + hi`` (may be negative)."""
    lead = len(shape) - len(pads)
    return tuple(shape[:lead]) + tuple(n + lo + hi for n, (lo, hi) in
                                       zip(shape[lead:], pads))


def source_index(W, lo, hi, mode):
    """Per output position along one axis, the input index it reads (not for 'constant').

    >>> source_index(4, 2, 1, "reflect").tolist()
    [2, 1, 0, 1, 2, 3, 2]
    >>> source_index(4, 2, 1, "replicate").tolist()
    [0, 0, 0, 1, 2, 3, 3]
    >>> source_index(4, 2, -1, "circular").tolist()      # crop 1 on the right, then wrap
    [1, 2, 0, 1, 2]
    """
    p = np.arange(-lo, W + hi)
    if mode == "reflect":
        return np.where(p < 0, -p, np.where(p >= W, 2 * (W - 1) - p, p))
    if mode == "replicate":
        return np.clip(p, 0, W - 1)
    if mode == "circular":
        a = max(0, -lo)
        wc = W - a - max(0, -hi)
        return a + (p - a) % wc
    raise ValueError(f"source_index: unknown padding mode {mode!r}")


def _crop_slices(shape, pads):
    """Slices keeping what negative pads leave of the input (the rest is cropped)."""
    lead = len(shape) - len(pads)
    return (slice(None),) * lead + tuple(slice(max(0, -lo), n - max(0, -hi))
                                         for n, (lo, hi) in zip(shape[lead:], pads))


def pad(x, pads, mode="constant", value=0.0):
    """Pad (or crop, for negative pads) the trailing axes of ``x`` in one of the four modes.

    ``value`` is the fill of 'constant' (a Python number: it keeps ``x``'s dtype).
    Returns ``x`` itself when every pad is 0.

    >>> x = np.arange(3.0)
    >>> pad(x, [(2, 1)], "reflect").tolist(), pad(x, [(1, -1)], "constant", 9.0).tolist()
    ([2.0, 1.0, 0.0, 1.0, 2.0, 1.0], [9.0, 0.0, 1.0])
    """
    if not any(lo or hi for lo, hi in pads):
        return x
    if mode == "constant":
        x = x[_crop_slices(x.shape, pads)]
        return pad_constant(x, [(max(0, lo), max(0, hi)) for lo, hi in pads], value)
    lead = x.ndim - len(pads)
    for axis, (lo, hi) in enumerate(pads, start=lead):
        if lo or hi:
            x = np.take(x, source_index(x.shape[axis], lo, hi, mode), axis=axis)
    return x


def _fold_axis(gy, axis, W, lo, hi, mode):
    """The adjoint of padding one axis of size ``W``: ``gy`` (length ``W + lo + hi`` on
    ``axis``) folded back to length ``W``."""
    L = gy.shape[axis]

    def sl(start, stop):
        # a slice along `axis` only
        return (slice(None),) * axis + (slice(start, stop),)

    shape = gy.shape[:axis] + (W,) + gy.shape[axis + 1:]
    gx = np.zeros(shape, dtype=gy.dtype)
    a, b = max(0, -lo), W - max(0, -hi)                # the input kept by the negative pads
    pl, ph = max(0, lo), max(0, hi)                    # the border widths in gy
    gx[sl(a, b)] = gy[sl(pl, L - ph)]                  # the centre maps one to one
    if mode == "reflect":
        # border element k (k = 1..pl from the edge) came from x[k] / x[W - 1 - k]
        if pl:
            gx[sl(1, pl + 1)] += np.flip(gy[sl(0, pl)], axis)
        if ph:
            gx[sl(W - 1 - ph, W - 1)] += np.flip(gy[sl(L - ph, L)], axis)
    elif mode == "replicate":
        if pl:
            gx[sl(0, 1)] += gy[sl(0, pl)].sum(axis=axis, keepdims=True)
        if ph:
            gx[sl(W - 1, W)] += gy[sl(L - ph, L)].sum(axis=axis, keepdims=True)
    elif mode == "circular":
        # the low border is the cropped row's last pl entries, the high border its first ph
        if pl:
            gx[sl(b - pl, b)] += gy[sl(0, pl)]
        if ph:
            gx[sl(a, a + ph)] += gy[sl(L - ph, L)]
    return gx


def pad_backward(gy, in_shape, pads, mode="constant"):
    """The adjoint of ``pad``: the gradient of the input given the padded output's ``gy``.

    'constant' crops the border (and puts zeros where the forward cropped); the other modes
    fold each border back onto the input elements it copied, adding.

    >>> pad_backward(np.ones(6), (3,), [(2, 1)], "reflect").tolist()
    [1.0, 3.0, 2.0]
    """
    if not any(lo or hi for lo, hi in pads):
        return gy
    if mode == "constant":
        lead = gy.ndim - len(pads)
        inner = (slice(None),) * lead + tuple(
            slice(max(0, lo), n - max(0, hi)) for n, (lo, hi) in zip(gy.shape[lead:], pads))
        g = gy[inner]
        if all(lo >= 0 and hi >= 0 for lo, hi in pads):
            return np.ascontiguousarray(g)
        gx = np.zeros(in_shape, dtype=gy.dtype)
        gx[_crop_slices(in_shape, pads)] = g
        return gx
    lead = gy.ndim - len(pads)
    for axis, (lo, hi) in reversed(list(enumerate(pads, start=lead))):
        if lo or hi:
            gy = _fold_axis(gy, axis, in_shape[axis], lo, hi, mode)
    return gy
