"""Normalisation ops: one fused normalise-and-scale core, local response norm, RMS norm.

``Normalize`` is the core that batch, instance, group and layer norm share: the input is viewed
as ``stat_shape`` (a reshape that puts each statistics group along ``axes``), normalised with a
mean and a variance per group, viewed back, then scaled and shifted by ``weight`` / ``bias``
viewed as ``wshape`` (broadcasting against the input)::

    batch norm     x (N, C, *)  stat_shape (N, C, S)      axes (0, 2)  wshape (1, C, 1, ..)
    instance norm  x (N, C, *)  stat_shape (N, C, S)      axes (2,)    wshape (1, C, 1, ..)
    group norm     x (N, C, *)  stat_shape (N, G, C/G*S)  axes (2,)    wshape (1, C, 1, ..)
    layer norm     x (*, D..)   stat_shape (M, D)         axes (1,)    wshape (D..)

The statistics are computed by ``moments`` (the caller needs them anyway, to update running
statistics) and handed to the op; ``batch_stats=False`` says they are constants (running
statistics in eval mode), so the input gradient is the fixed affine map ``gy * w / std``.

Gradients of gradients (``backward_graph``): ``Normalize`` is differentiated again through
two small ops on its input, ``_Standardized`` (``xhat``) and ``_Rstd`` (``1/std``), whose
forwards return the exact values the first forward computed (so nothing more is kept for
first-order backward) and whose derivatives are written with ``xhat`` and ``rstd`` again,
to any order. ``LocalResponseNorm``, ``RMSNorm`` and ``LpNormalize`` rebuild their forward
from simpler recorded ops (``vjp_by_recompute``), with ``_Power`` (a constant exponent) and
``_ChannelWindowSum``.
"""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function
from svertka.autograd.graph import sum_to, vjp_by_recompute
from svertka.kernels.channels import per_channel as _per_channel

__all__ = ["moments", "Normalize", "batch_norm_fixed_", "fold_batch_norm",
           "LocalResponseNorm", "RMSNorm", "LpNormalize"]


class _Centered:
    """One slot: the centred input ``d = x - m`` that ``moments`` computed for batch norm,
    handed to the ``Normalize`` call that follows with the same ``mean`` (object identity),
    so the data is centred once. ``Normalize`` takes it (the slot is then empty)."""

    slot = None

    @classmethod
    def put(cls, xr, mean, d, c):
        cls.slot = (xr.__array_interface__["data"][0], xr.shape, xr.strides, mean, d, c)

    @classmethod
    def take(cls, xr, mean):
        s, cls.slot = cls.slot, None
        if (s is not None and s[3] is mean and s[1] == xr.shape and s[2] == xr.strides
                and s[0] == xr.__array_interface__["data"][0]):
            return s[4], s[5]
        return None


def _moments_per_channel(xr):
    """Batch norm statistics of ``xr (N, C, S)`` over ``(0, 2)`` in three reads and one
    write: ``m = mean(x)``, ``d = x - m``, then the corrected two-pass variance
    ``mean(d^2) - mean(d)^2`` (``mean(d)`` is the rounding error of ``m``, added back to the
    mean). The sums are ``einsum`` reductions in the input's dtype (vectorised; float32
    accumulation is accurate here because ``d`` is centred)."""
    N, C, S = xr.shape
    n = N * S
    m = np.einsum("ncs->c", xr) / n                                 # (C,)
    d = _per_channel(np.subtract, xr, m.reshape(1, C, 1))           # (N, C, S), new
    c = np.einsum("ncs->c", d) / n                                  # (C,) ~ rounding of m
    var = np.einsum("ncs,ncs->c", d, d) / n - c * c
    np.maximum(var, 0, out=var)
    mean = (m + c).reshape(1, C, 1)
    _Centered.put(xr, mean, d, c.reshape(1, C, 1))
    return mean, var.reshape(1, C, 1)


def moments(xr, axes):
    """Mean and biased variance of ``xr`` over ``axes`` (kept as size-1 axes), in its dtype.

    Two passes (``mean((x - mean)^2)``): no cancellation, unlike ``E[x^2] - E[x]^2``. Empty
    groups get mean 0 and variance 1 (their output is empty anyway).
    """
    if any(xr.shape[a] == 0 for a in axes):  # nothing to average: no NaN warnings
        shape = tuple(1 if i in axes else n for i, n in enumerate(xr.shape))
        return np.zeros(shape, xr.dtype), np.ones(shape, xr.dtype)
    if tuple(axes) == (0, 2) and xr.ndim == 3 and xr.dtype in (np.float32, np.float64):
        return _moments_per_channel(xr)
    # Accumulate in float64 (as torch's CPU kernels do), return in the input's dtype.
    mean = np.mean(xr, axis=axes, keepdims=True, dtype=np.float64).astype(xr.dtype)
    d = xr - mean
    var = np.mean(d * d, axis=axes, keepdims=True, dtype=np.float64).astype(xr.dtype)
    return mean, var


def _reduce_to(a, shape):
    """Sum ``a`` over the axes where ``shape`` (same rank, broadcast from) has size 1."""
    axes = tuple(i for i, (n, s) in enumerate(zip(a.shape, shape)) if s == 1 and n != 1)
    return np.sum(a, axis=axes, keepdims=True) if axes else a


def _rstd_and_scale(var, weight, eps, dt, C):
    """``1 / sqrt(var + eps)`` and the per-channel scale ``rstd * weight``, each ``(1, C, 1)``
    in the dtype ``dt``."""
    rstd = (1.0 / np.sqrt(var.reshape(1, C, 1) + eps)).astype(dt, copy=False)
    if weight is None:
        return rstd, rstd
    return rstd, rstd * weight.astype(dt, copy=False).reshape(1, C, 1)


def _fixed_shift(mean, scale, bias):
    """The shift of batch norm with fixed statistics: ``bias - mean * scale``."""
    shift = -mean * scale
    if bias is not None:
        shift = shift + bias.astype(scale.dtype, copy=False).reshape(scale.shape)
    return shift


def batch_norm_fixed_(x, mean, var, weight, bias, eps):
    """Batch norm with fixed statistics (eval mode) applied IN PLACE to ``x`` ``(N, C, *)``, a
    float32/float64 array nobody else holds (a fresh layer output, no graph): the same
    ``x * scale + shift`` as ``Normalize``'s forward (the same values), without a new array.
    ``mean``, ``var``, ``weight`` and ``bias`` are ``(C,)`` arrays (the last two may be
    ``None``)."""
    dt = x.dtype
    C = x.shape[1]
    xr = x.reshape(x.shape[0], C, -1)                                  # (N, C, S), a view
    _, scale = _rstd_and_scale(var, weight, eps, dt, C)
    mean = mean.astype(dt, copy=False).reshape(1, C, 1)
    _per_channel(np.multiply, xr, scale, out=xr)
    _per_channel(np.add, xr, _fixed_shift(mean, scale, bias), out=xr)
    return x


def fold_batch_norm(w, b, mean, var, weight, bias, eps):
    """Batch norm with fixed statistics folded into the layer before it: a convolution or linear
    layer with weight ``w`` ``(C, ...)`` and bias ``b`` ``(C,)`` or ``None``, followed by
    ``y * scale + shift`` per output channel, is the same layer with weight ``w * scale`` and
    bias ``b * scale + shift`` (``scale`` and ``shift`` computed as ``batch_norm_fixed_`` does,
    in ``w``'s dtype). Returns the folded ``(w, b)`` as new arrays; ``mean``, ``var``,
    ``weight`` and ``bias`` are ``(C,)`` arrays (the last two may be ``None``)."""
    dt = w.dtype
    C = w.shape[0]
    _, scale = _rstd_and_scale(var, weight, eps, dt, C)                  # (1, C, 1)
    shift = _fixed_shift(mean.astype(dt, copy=False).reshape(1, C, 1), scale, bias)
    scale, shift = scale.reshape(C), shift.reshape(C)
    wf = w * scale.reshape((C,) + (1,) * (w.ndim - 1))                   # (C, ...)
    bf = shift if b is None else b.astype(dt, copy=False) * scale + shift
    return wf, bf.astype(dt, copy=False)


class Normalize(Function):
    """``y = (x - mean) / sqrt(var + eps) * weight + bias`` with closed-form backward.

    Inputs ``x``, ``weight`` and ``bias`` (the last two may be ``None``). Parameters: ``mean``
    and ``var`` shaped as ``stat_shape`` reduced over ``axes`` (size-1 there), ``stat_shape``,
    ``axes``, ``wshape`` (the broadcast shape of weight and bias), ``eps``, ``batch_stats``,
    ``per_channel`` (batch norm: ``stat_shape`` is ``(N, C, S)``, ``axes`` ``(0, 2)``, so the
    sums of the input gradient are the weight and bias gradients; a faster backward).

    Backward, with ``g = gy * weight`` and ``xhat = (x - mean) * rstd`` in the statistics view
    and ``mean_A`` the mean over ``axes``:

    * batch statistics: ``gx = rstd * (g - mean_A(g) - xhat * mean_A(g * xhat))``;
    * fixed statistics: ``gx = rstd * g``;
    * ``gweight = sum(gy * xhat)`` and ``gbias = sum(gy)`` over the broadcast axes of ``wshape``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, mean, var, stat_shape, axes, wshape, eps,
                batch_stats=True, per_channel=False):
        dt = x.dtype
        if per_channel and x.size and dt in (np.float32, np.float64):
            return Normalize._forward_per_channel(ctx, x, weight, bias, mean, var, stat_shape,
                                                  eps, batch_stats)
        rstd = (1.0 / np.sqrt(var + eps)).astype(dt, copy=False)  # (stat_shape reduced)
        xhat = ((x.reshape(stat_shape) - mean.astype(dt, copy=False)) * rstd).reshape(x.shape)
        y = xhat
        if weight is not None:
            y = y * weight.astype(dt, copy=False).reshape(wshape)
        if bias is not None:
            y = y + bias.astype(dt, copy=False).reshape(wshape)  # a new array: xhat is kept
        elif y is xhat:
            y = xhat.copy()
        ctx.save_for_backward(weight)
        if bias is not None:
            ctx.bshape, ctx.bdtype = bias.shape, bias.dtype
        ctx.xhat, ctx.rstd = xhat, rstd
        ctx.stat_shape, ctx.axes, ctx.wshape = stat_shape, axes, wshape
        ctx.batch_stats = batch_stats
        ctx.per_channel = per_channel and batch_stats
        return y

    @staticmethod
    def _forward_per_channel(ctx, x, weight, bias, mean, var, stat_shape, eps, batch_stats):
        """Batch norm (``(N, C, S)`` view, statistics per channel): ``y = x * scale + shift``
        with one new array, the output. In training it is the centred input ``moments`` left
        (transformed in place), otherwise ``x - mean`` or ``x * scale``. Saves ``x`` (the
        input, alive anyway) and the statistics: no ``xhat``."""
        dt = x.dtype
        C = stat_shape[1]
        xr = x.reshape(stat_shape)
        mean = mean.astype(dt, copy=False).reshape(1, C, 1)
        rstd, scale = _rstd_and_scale(var, weight, eps, dt, C)
        if batch_stats:
            got = _Centered.take(xr, mean)
            if got is None:
                y, c = _per_channel(np.subtract, xr, mean), np.zeros((1, C, 1), dt)
            else:
                y, c = got                                 # y = x - (mean - c), ours now
            shift = -c * scale                                             # (1, C, 1)
            _per_channel(np.multiply, y, scale, out=y)
            if bias is not None:
                shift = shift + bias.astype(dt, copy=False).reshape(1, C, 1)
            _per_channel(np.add, y, shift, out=y)
        else:
            y = _per_channel(np.multiply, xr, scale)
            _per_channel(np.add, y, _fixed_shift(mean, scale, bias), out=y)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(weight, x)
            if bias is not None:
                ctx.bshape, ctx.bdtype = bias.shape, bias.dtype
            ctx.rstd, ctx.mean = rstd, mean
            ctx.stat_shape = stat_shape
            ctx.batch_stats = batch_stats
            ctx.fast = True
        return y.reshape(x.shape)

    @staticmethod
    def _backward_fast(ctx, gy):
        """Backward of ``_forward_per_channel``, with one new array (``gx``). With
        ``d = x - mean``, ``xhat = d * rstd`` and the sums ``sg = sum(gy)``,
        ``sgx = sum(gy * xhat)`` over ``(N, S)`` (the bias and weight gradients), training
        gives ``gx = scale * (gy - sg/n - xhat * sgx/n)``, computed in the buffer that held
        ``d`` as ``((d * B + gy) + K) * scale``; fixed statistics give ``gx = gy * scale``."""
        weight, x = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        N, C, S = ctx.stat_shape
        rstd = ctx.rstd
        gyr = gy.reshape(ctx.stat_shape)
        xr = x.reshape(ctx.stat_shape)
        scale = rstd if weight is None else rstd * weight.astype(gy.dtype, copy=False).reshape(
            1, C, 1)
        gx = gw = gb = sgx = None
        sg = np.einsum("ncs->c", gyr).reshape(1, C, 1)
        if ctx.batch_stats or need_w:
            gx = _per_channel(np.subtract, xr, ctx.mean)                  # d, then gx
            sgx = np.einsum("ncs,ncs->c", gyr, gx).reshape(1, C, 1) * rstd
        if need_x:
            if ctx.batch_stats:
                n = N * S
                _per_channel(np.multiply, gx, -rstd * sgx / n, out=gx)
                gx += gyr
                _per_channel(np.add, gx, -sg / n, out=gx)
                _per_channel(np.multiply, gx, scale, out=gx)
            elif gx is None:
                gx = _per_channel(np.multiply, gyr, scale)
            else:
                _per_channel(np.multiply, gyr, scale, out=gx)
            gx = gx.reshape(gy.shape)
        else:
            gx = None
        if need_w:
            gw = sgx.reshape(weight.shape).astype(weight.dtype, copy=False)
        if need_b:
            gb = sg.reshape(ctx.bshape).astype(ctx.bdtype, copy=False)
        return gx, gw, gb

    @staticmethod
    def backward(ctx, gy):
        if getattr(ctx, "fast", False):
            if gy.dtype != ctx.rstd.dtype:
                gy = gy.astype(ctx.rstd.dtype)
            return Normalize._backward_fast(ctx, gy)
        (weight,) = ctx.saved_tensors
        xhat, rstd, wshape = ctx.xhat, ctx.rstd, ctx.wshape
        need_x, need_w, need_b = ctx.needs_input_grad
        if ctx.per_channel and gy.size:
            return Normalize._backward_per_channel(ctx, gy, weight, need_x, need_w, need_b)
        gx = gw = gb = None
        if need_x:
            g = gy if weight is None else gy * weight.astype(gy.dtype, copy=False).reshape(wshape)
            gr = g.reshape(ctx.stat_shape)                     # the statistics view
            if gy.size == 0:
                gx = np.zeros_like(gy)
            elif ctx.batch_stats:
                xr = xhat.reshape(ctx.stat_shape)
                gm = np.mean(gr, axis=ctx.axes, keepdims=True)
                gxm = np.mean(gr * xr, axis=ctx.axes, keepdims=True)
                gx = ((gr - gm - xr * gxm) * rstd).reshape(gy.shape)
            else:
                gx = (gr * rstd).reshape(gy.shape)
        full = (1,) * (gy.ndim - len(wshape)) + tuple(wshape)
        if need_w:
            gw = _reduce_to(gy * xhat, full).reshape(weight.shape).astype(weight.dtype,
                                                                          copy=False)
        if need_b:
            gb = _reduce_to(gy, full).reshape(ctx.bshape).astype(ctx.bdtype, copy=False)
        return gx, gw, gb

    @staticmethod
    def backward_graph(ctx, gy):
        """The backward as recorded ops: ``gx`` through ``_Standardized``'s graph vjp,
        ``gweight = sum(gy * xhat)``, ``gbias = sum(gy)``."""
        need_x, need_w, need_b = ctx.needs_input_grad
        if getattr(ctx, "fast", False):
            weight, x = ctx.saved_graph()
            xv = x.detach().numpy().reshape(ctx.stat_shape)
            xhat = ((xv - ctx.mean) * ctx.rstd).reshape(x.shape)
            axes, wshape = (0, 2), (ctx.stat_shape[1],) + (1,) * (x.ndim - 2)
        else:
            (weight,) = ctx.saved_graph()
            xhat, axes, wshape = ctx.xhat, ctx.axes, ctx.wshape
            x = ctx.input_graph(0, xhat)       # its values are not needed, only its graph
        spec = (xhat, ctx.rstd, tuple(ctx.stat_shape), tuple(axes), ctx.batch_stats)
        gx = gw = gb = None
        if need_x:
            g = gy if weight is None else gy * weight.reshape(wshape)
            gx = _standardized_vjp(x, g, spec)
        full = (1,) * (gy.ndim - len(wshape)) + tuple(wshape)
        if need_w:
            xh = _Standardized.apply(x, spec=spec)
            gw = sum_to(gy * xh, full).reshape(tuple(weight.shape))
        if need_b:
            gb = sum_to(gy, full).reshape(tuple(ctx.bshape))
        return gx, gw, gb

    @staticmethod
    def _backward_per_channel(ctx, gy, weight, need_x, need_w, need_b):
        """Batch norm (statistics per channel, over (N, S) of the (N, C, S) view): the sums
        that the input gradient needs are the bias and weight gradients, computed once."""
        N, C, S = ctx.stat_shape
        gyr = gy.reshape(ctx.stat_shape)                                # (N, C, S)
        xr = ctx.xhat.reshape(ctx.stat_shape)                           # (N, C, S)
        sg = np.sum(gyr, axis=(0, 2), keepdims=True)                    # (1, C, 1)
        sgx = np.einsum("ncs,ncs->c", gyr, xr).reshape(1, C, 1)         # (1, C, 1)
        gx = gw = gb = None
        if need_x:
            a = ctx.rstd if weight is None else ctx.rstd * weight.astype(gy.dtype).reshape(
                1, C, 1)                                                # (1, C, 1)
            n = N * S
            gx = gyr * a
            gx -= a * sg / n
            gx -= xr * (a * sgx / n)
            gx = gx.reshape(gy.shape)
        if need_w:
            gw = sgx.reshape(weight.shape).astype(weight.dtype, copy=False)
        if need_b:
            gb = sg.reshape(ctx.bshape).astype(ctx.bdtype, copy=False)
        return gx, gw, gb


def _standardized_vjp(x, g, spec):
    """``gx`` of ``xhat(x)`` for the upstream ``g`` (Tensors; the result is recorded):
    ``rstd * (g - mean_A(g) - xhat * mean_A(g * xhat))`` with batch statistics (``xhat``
    and ``rstd`` as ops of ``x``), ``g * rstd`` with fixed ones."""
    xhat, rstd, stat_shape, axes, batch_stats = spec
    gr = g.reshape(stat_shape)
    if not batch_stats:
        return (gr * rstd).reshape(tuple(g.shape))
    xh = _Standardized.apply(x, spec=spec).reshape(stat_shape)
    r = _Rstd.apply(x, spec=spec)
    gx = (gr - gr.mean(dim=axes, keepdim=True) - xh * (gr * xh).mean(dim=axes, keepdim=True))
    return (gx * r).reshape(tuple(g.shape))


class _Standardized(Function):
    """``xhat = (x - mean) * rstd`` of ``Normalize``, as an op of ``x`` for its double
    backward: the forward returns the saved ``xhat`` (``spec = (xhat, rstd, stat_shape, axes,
    batch_stats)``; the input's values are not read), the backward is the normalisation's
    input gradient."""

    @staticmethod
    def forward(ctx, x, *, spec):
        ctx.spec = spec
        return spec[0]

    @staticmethod
    def backward(ctx, g):
        xhat, rstd, stat_shape, axes, batch_stats = ctx.spec
        gr = g.reshape(stat_shape)
        if not batch_stats:
            return (gr * rstd).reshape(g.shape)
        xr = xhat.reshape(stat_shape)
        gm = np.mean(gr, axis=axes, keepdims=True)
        gxm = np.mean(gr * xr, axis=axes, keepdims=True)
        return ((gr - gm - xr * gxm) * rstd).reshape(g.shape)

    @staticmethod
    def backward_graph(ctx, g):
        """The normalisation's input gradient again, as recorded ops."""
        return _standardized_vjp(ctx.input_graph(0, ctx.spec[0]), g, ctx.spec)


class _Rstd(Function):
    """``rstd = (var(x) + eps) ** -1/2`` of ``Normalize`` (batch statistics) as an op of
    ``x``: the forward returns the saved ``rstd``; ``d rstd / dx = -rstd^2 * xhat / n`` over
    each statistics group of ``n`` values."""

    @staticmethod
    def forward(ctx, x, *, spec):
        ctx.spec = spec
        ctx.x_shape = x.shape
        return spec[1]

    @staticmethod
    def backward(ctx, g):
        xhat, rstd, stat_shape, axes, _ = ctx.spec
        n = float(np.prod([stat_shape[a] for a in axes]))
        return (-(g * rstd * rstd / n) * xhat.reshape(stat_shape)).reshape(ctx.x_shape)

    @staticmethod
    def backward_graph(ctx, g):
        """``-g * rstd^2 * xhat / n`` with ``rstd`` and ``xhat`` as ops of ``x``."""
        xhat, rstd, stat_shape, axes, _ = ctx.spec
        n = float(np.prod([stat_shape[a] for a in axes]))
        x = ctx.input_graph(0, xhat)
        r = _Rstd.apply(x, spec=ctx.spec)
        xh = _Standardized.apply(x, spec=ctx.spec).reshape(stat_shape)
        return (-(g * r * r / n) * xh).reshape(tuple(ctx.x_shape))


class _Power(Function):
    """``a ** e`` for a constant exponent ``e`` (a helper of the norms' double backward).
    The derivative ``e * a ** (e - 1)`` is taken as 0 where ``a == 0`` (the convention of
    torch's norm backward); ``zero_at_zero`` makes the output itself 0 there (used for those
    derivative factors)."""

    @staticmethod
    def forward(ctx, a, *, e, zero_at_zero=False):
        ctx.save_for_backward(a)
        ctx.e = e
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.power(a, e)
        return np.where(a == 0, 0, y).astype(y.dtype, copy=False) if zero_at_zero else y

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        e = ctx.e
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(a == 0, 0, e * np.power(a, e - 1)).astype(a.dtype, copy=False)
        return g * d

    @staticmethod
    def backward_graph(ctx, g):
        """``g * e * a ** (e - 1)``, the power again an op."""
        (a,) = ctx.saved_graph()
        return g * _Power.apply(a, e=ctx.e - 1, zero_at_zero=True) * ctx.e


class _ChannelWindowSum(Function):
    """``_channel_window_sum`` as an op; its adjoint is the mirrored window."""

    @staticmethod
    def forward(ctx, a, *, lo, hi):
        ctx.window = (lo, hi)
        return _channel_window_sum(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        lo, hi = ctx.window
        return _channel_window_sum(g, hi, lo)

    @staticmethod
    def backward_graph(ctx, g):
        """The mirrored window sum of ``g``, recorded."""
        lo, hi = ctx.window
        return _ChannelWindowSum.apply(g, lo=hi, hi=lo)


def _channel_window_sum(a, lo, hi):
    """``out[:, c] = sum(a[:, c - lo .. c + hi])`` along axis 1, zero outside (a loop over the
    ``lo + hi + 1`` window offsets, not over channels). Offsets of ``C`` channels or more
    only add zeros, so the loop stops at ``C - 1`` whatever the window's size."""
    out = a.copy()
    C = a.shape[1]
    lo, hi = min(lo, C - 1), min(hi, C - 1)
    for d in range(1, lo + 1):                               # channels below c
        if d < C:
            out[:, d:] += a[:, :C - d]
    for d in range(1, hi + 1):                               # channels above c
        if d < C:
            out[:, :C - d] += a[:, d:]
    return out


class LocalResponseNorm(Function):
    """torch's local response norm along axis 1 (channels) of ``(N, C, *)``::

        div[c] = (k + alpha / size * sum(x[j]^2 for j in c - size//2 .. c + (size-1)//2))^beta
        y = x / div

    (zero padding outside the channels; the window average always divides by ``size``).
    Backward, with ``base = div^(1/beta)``:
    ``gx = gy / div - 2 alpha beta / size * x * S'(gy * x / (div * base))``, where ``S'`` is the
    adjoint of the window sum (the same window, mirrored).
    """

    @staticmethod
    def forward(ctx, x, *, size, alpha, beta, k):
        lo, hi = size // 2, (size - 1) // 2
        base = _channel_window_sum(x * x, lo, hi) * (alpha / size) + k   # k + alpha * avg
        inv = base ** -beta                                            # 1 / div
        ctx.save_for_backward(x)
        ctx.base, ctx.inv = base, inv
        ctx.args = (size, alpha, beta, lo, hi)
        ctx.k = k
        return x * inv

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        size, alpha, beta, lo, hi = ctx.args
        base, inv = ctx.base, ctx.inv
        t = gy * x * inv / base                       # gy[c'] x[c'] base[c']^(-beta-1)
        back = _channel_window_sum(t, hi, lo)         # c' in c - hi .. c + lo: the adjoint
        return gy * inv - (2.0 * alpha * beta / size) * x * back

    @staticmethod
    def backward_graph(ctx, gy):
        """By recomputation: ``x * (k + alpha / size * window_sum(x^2)) ** -beta``."""
        (x,) = ctx.saved_graph()
        size, alpha, beta, lo, hi = ctx.args
        k = ctx.k

        def f(x):
            base = _ChannelWindowSum.apply(x * x, lo=lo, hi=hi) * (alpha / size) + k
            return x * _Power.apply(base, e=-beta)

        return vjp_by_recompute(ctx, gy, [x], f)[0]


class RMSNorm(Function):
    """``y = x / sqrt(mean(x^2 over axes) + eps) * weight`` over the trailing ``axes``.

    Backward, with ``r = rsqrt(mean(x^2) + eps)`` and ``g = gy * weight``:
    ``gx = r * (g - x * r^2 * mean(g * x))``; ``gweight = sum(gy * x * r)`` over the lead axes.
    """

    @staticmethod
    def forward(ctx, x, weight, *, axes, eps):
        dt = x.dtype
        r = (1.0 / np.sqrt(np.mean(x * x, axis=axes, keepdims=True) + eps)).astype(dt,
                                                                                  copy=False)
        xhat = x * r
        ctx.save_for_backward(x, weight)
        ctx.r, ctx.xhat, ctx.axes, ctx.eps = r, xhat, axes, eps
        return xhat if weight is None else xhat * weight.astype(dt, copy=False)

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        r, xhat, axes = ctx.r, ctx.xhat, ctx.axes
        gx = gw = None
        if ctx.needs_input_grad[0]:
            g = gy if weight is None else gy * weight.astype(gy.dtype, copy=False)
            gx = r * (g - xhat * np.mean(g * xhat, axis=axes, keepdims=True))
        if ctx.needs_input_grad[1]:
            lead = tuple(range(gy.ndim - weight.ndim))
            gw = np.sum(gy * xhat, axis=lead).astype(weight.dtype, copy=False)
        return gx, gw

    @staticmethod
    def backward_graph(ctx, gy):
        """By recomputation: ``x * (mean(x^2) + eps) ** -1/2 * weight``."""
        x, weight = ctx.saved_graph()
        axes, eps = ctx.axes, ctx.eps

        def f(x, w):
            y = x * _Power.apply((x * x).mean(dim=axes, keepdim=True) + eps, e=-0.5)
            return y if w is None else y * w

        return vjp_by_recompute(ctx, gy, [x, weight], f)


class LpNormalize(Function):
    """``y = x / max(||x||_p, eps)`` along ``axis`` (``p`` > 0, finite, or ``inf``; or 0).

    Backward, with ``n = ||x||_p`` and ``d = max(n, eps)``:
    ``gx = gy / d - [n >= eps] * sum(gy * x) / d^2 * dn/dx``, where
    ``dn/dx = sign(x) |x|^(p-1) / n^(p-1)`` (0 where ``x`` or ``n`` is 0), for ``p = inf`` the
    sign at the entries reaching the maximum, shared evenly among ties, and 0 for ``p = 0``
    (a count): the rules of torch's ``vector_norm``, followed by ``clamp_min``.

    Second derivatives follow the same rules (the norm's derivative is 0 where it is 0), so
    below ``eps`` they are those of ``x / eps``; torch's double backward gives NaN there for
    ``p = 2`` and ``p = 0.5`` (a departure on purpose).
    """

    @staticmethod
    def forward(ctx, x, *, p, axis, eps):
        a = np.abs(x)
        if p == np.inf:
            n = np.max(a, axis=axis, keepdims=True) if x.shape[axis] else np.zeros_like(
                np.sum(a, axis=axis, keepdims=True))
        elif p == 0:
            n = np.sum(a != 0, axis=axis, keepdims=True).astype(x.dtype)
        elif p == 1:
            n = np.sum(a, axis=axis, keepdims=True)
        elif p == 2:
            n = np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
        else:
            n = np.sum(a ** p, axis=axis, keepdims=True) ** (1.0 / p)
        d = np.maximum(n, eps).astype(x.dtype, copy=False)
        ctx.save_for_backward(x)
        ctx.n, ctx.d, ctx.args = n, d, (p, axis, eps)
        return x / d

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        n, d = ctx.n, ctx.d
        p, axis, eps = ctx.args
        gx = gy / d
        if p == 0:
            return gx
        s = np.sum(gy * x, axis=axis, keepdims=True) / (d * d)
        s = np.where(n >= eps, s, 0).astype(x.dtype, copy=False)    # clamp_min blocks below
        a = np.abs(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == np.inf:
                at_max = (a == n).astype(x.dtype)
                dn = np.sign(x) * at_max / np.sum(at_max, axis=axis, keepdims=True)
            elif p == 1:
                dn = np.sign(x)
            elif p == 2:
                dn = x / n
            else:
                dn = np.sign(x) * (a / n) ** (p - 1)
            dn = np.where((x == 0) | (n == 0), 0, dn).astype(x.dtype, copy=False)
        return gx - s * dn

    @staticmethod
    def backward_graph(ctx, gy):
        """By recomputation: ``x / d`` with ``d = n`` where ``n >= eps`` (else the constant
        ``eps``), ``n`` from recorded ops with ``sign(x)`` (and for ``inf`` the share of each
        maximal entry) held constant: the same derivative rules as ``backward``."""
        (x,) = ctx.saved_graph()
        p, axis, eps = ctx.args
        xv = x.detach().numpy()
        dt = xv.dtype
        if p == 0:
            return gy / ctx.d
        keep = (ctx.n >= eps).astype(dt)
        sign = np.sign(xv)

        def f(x):
            if p == np.inf:
                at_max = (np.abs(xv) == ctx.n).astype(dt)
                share = sign * at_max / np.sum(at_max, axis=axis, keepdims=True)
                n = (x * share).sum(dim=axis, keepdim=True)
            elif p == 1:
                n = (x * sign).sum(dim=axis, keepdim=True)
            elif p == 2:
                n = _Power.apply((x * x).sum(dim=axis, keepdim=True), e=0.5)
            else:
                n = _Power.apply(_Power.apply(x * sign, e=p).sum(dim=axis, keepdim=True),
                                 e=1.0 / p)
            return x / (n * keep + (1 - keep) * eps)

        return vjp_by_recompute(ctx, gy, [x], f)[0]
