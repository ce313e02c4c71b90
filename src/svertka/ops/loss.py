"""Loss functions as Functions: one fused op per loss, forward and backward side by side.

* ``PointwiseLoss``: losses that are a sum of an elementwise term ``l(x, t)`` (mse, l1,
  smooth_l1, huber, binary cross-entropy with or without logits, kl_div). Each kernel of
  ``POINTWISE`` returns the term and its two partial derivatives ``dl/dx`` and ``dl/dt``; the
  Function applies an optional elementwise weight and the reduction, and backward is
  ``gy * dl/dx`` (scaled by the reduction), summed back over broadcast axes.
* ``CrossEntropy``: ``log_softmax`` and the negative log-likelihood fused, for class-index or
  class-probability targets, class weights, ``ignore_index`` and label smoothing. The loss of
  one sample is ``-sum_c a_c log p_c`` with per-class coefficients ``a`` (the smoothed one-hot
  or probability target times the class weights), so the gradient is the stable
  ``(sum_c a_c) p - a``: no ``log`` or ``exp`` of a large number, and no division.
* ``NllLoss``: the negative log-likelihood of log-probabilities.

Every reduction follows torch: ``'mean'`` divides by the number of elements, or, for class-index
targets, by the summed weight of the non-ignored targets (NaN for an empty batch, as torch).
"""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function
from svertka.autograd.graph import sum_to
from svertka.ops.elementwise import sigmoid_array, unbroadcast
from svertka.ops.indexing import along_axis
from svertka.ops.movement import Expand, Getitem, IndexAccumulate

__all__ = ["PointwiseLoss", "CrossEntropy", "NllLoss", "POINTWISE", "log_softmax_array"]

# torch's lower bound on log(p) in binary_cross_entropy, and the floor of the denominator
# x (1 - x) in its gradient
_LOG_FLOOR = -100.0
_BCE_EPS = 1e-12


# ----------------------------------------------------------------------------- pointwise terms
#
# Each kernel: (x, t, need_dx, need_dt, **params) -> (l, dl/dx or None, dl/dt or None), arrays of
# the broadcast shape of x and t, in their dtype.

def _mse(x, t, nx, nt):
    d = x - t
    dx = 2 * d if nx or nt else None
    return d * d, dx, (-dx if nt else None)


def _l1(x, t, nx, nt):
    d = x - t
    s = np.sign(d) if nx or nt else None      # torch's subgradient at 0 is 0
    return np.abs(d), s, (-s if nt else None)


def _smooth_l1(x, t, nx, nt, beta):
    if beta == 0:                              # torch falls back to l1_loss
        return _l1(x, t, nx, nt)
    d = x - t
    ad = np.abs(d)
    small = ad < beta
    l = np.where(small, (0.5 / beta) * d * d, ad - 0.5 * beta)
    dx = np.where(small, d / beta, np.sign(d)) if nx or nt else None
    return l, dx, (-dx if nt else None)


def _huber(x, t, nx, nt, delta):
    d = x - t
    ad = np.abs(d)
    l = np.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
    dx = np.clip(d, -delta, delta) if nx or nt else None
    return l, dx, (-dx if nt else None)


def _bce(x, t, nx, nt):
    with np.errstate(divide="ignore", invalid="ignore"):
        log_x = np.maximum(np.log(x), _LOG_FLOOR)
        log_1mx = np.maximum(np.log1p(-x), _LOG_FLOOR)
        l = (t - 1) * log_1mx - t * log_x
        dx = (x - t) / np.maximum((1 - x) * x, _BCE_EPS) if nx else None
        dt = -np.log(x / (1 - x)) if nt else None  # -logit(x), unclamped, as torch
    return l, dx, dt


def _bce_logits(x, t, nx, nt, pos_weight=None):
    sp_neg = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)  # softplus(-x) = -log sigmoid(x)
    if pos_weight is None:
        l = (1 - t) * x + sp_neg
        dx = sigmoid_array(x) - t if nx else None
        dt = -np.broadcast_to(x, l.shape) if nt else None
    else:
        lw = (pos_weight - 1) * t + 1
        l = (1 - t) * x + lw * sp_neg
        dx = lw * sigmoid_array(x) - pos_weight * t if nx else None
        dt = (pos_weight - 1) * sp_neg - x if nt else None
    return l, dx, dt


def _kl_div(x, t, nx, nt, log_target=False):
    with np.errstate(divide="ignore", invalid="ignore"):
        if log_target:
            e = np.exp(t)
            l = e * (t - x)
            dt = l + e if nt else None
        else:
            nz = t != 0
            log_t = np.log(np.where(nz, t, 1))       # xlogy: 0 log 0 = 0
            l = t * log_t - t * x
            e = t
            dt = log_t + t / t - x if nt else None   # NaN at t == 0, as torch's xlogy grad
    dx = -np.broadcast_to(e, l.shape) if nx else None
    return l, dx, dt


POINTWISE = {"mse": _mse, "l1": _l1, "smooth_l1": _smooth_l1, "huber": _huber,
             "bce": _bce, "bce_logits": _bce_logits, "kl_div": _kl_div}


class PointwiseLoss(Function):
    """``reduce(w * l(x, t))`` for an elementwise term ``l = POINTWISE[kind]``.

    Args (keywords): ``kind``; ``reduction`` ('none', 'sum', 'mean'); ``mean_by`` ('count':
    mean over the elements, or 'weight': divide by ``sum(w)``, torch's rule for weighted mse
    and l1); ``params`` for the kernel (``beta``, ``delta``, ``pos_weight``, ``log_target``).
    ``w`` (the third input) may be ``None``.

    Backward: ``gx = g w dl/dx``, ``gt = g w dl/dt``, ``gw = g l`` (``g (l - L)`` when the
    mean divides by ``sum(w)``, ``L`` the loss), with ``g`` the upstream gradient divided by the
    mean's denominator.
    """

    @staticmethod
    def forward(ctx, x, t, w, *, kind, reduction, mean_by="count", params=None):
        nx, nt, nw = ctx.needs_input_grad
        l, dx, dt = POINTWISE[kind](x, t, nx, nt, **(params or {}))
        lw = l if w is None else l * w
        ctx.reduction = reduction
        ctx.kind, ctx.params = kind, params or {}
        ctx.shapes = (np.shape(x), np.shape(t), np.shape(w))
        ctx.weighted_mean = False
        if reduction == "none":
            out = lw
        elif reduction == "sum":
            out = lw.sum()
        else:
            if w is not None and mean_by == "weight":
                denom = w.sum()
                ctx.weighted_mean = True
            else:
                denom = lw.size
            with np.errstate(divide="ignore", invalid="ignore"):  # empty: 0/0 = nan, as torch
                out = np.asarray(lw.sum() / denom)
            ctx.denom = denom
        # x and t: for a create_graph backward only (references, no copies)
        ctx.save_for_backward(l if nw else None, dx, dt, w, x, t)
        ctx.out = out
        return np.asarray(out, dtype=l.dtype)

    @staticmethod
    def backward(ctx, gy):
        l, dx, dt, w = ctx.saved_tensors[:4]
        nx, nt, nw = ctx.needs_input_grad
        sx, st, sw = ctx.shapes
        g = gy
        if ctx.reduction == "mean":
            with np.errstate(divide="ignore", invalid="ignore"):
                g = gy / ctx.denom
        gl = g if w is None else g * w            # the gradient of each unweighted term
        gx = unbroadcast(np.broadcast_to(gl * dx, dx.shape), sx) if nx else None
        gt = unbroadcast(np.broadcast_to(gl * dt, dt.shape), st) if nt else None
        gw = None
        if nw:
            gw = g * (l - ctx.out) if ctx.weighted_mean else g * l
            gw = unbroadcast(np.broadcast_to(gw, l.shape), sw)
        return gx, gt, gw

    @staticmethod
    def backward_graph(ctx, gy):
        nx, nt, nw = ctx.needs_input_grad
        _, _, _, w, x, t = ctx.saved_graph()
        X, T = ctx.saved_tensors[4:]
        sx, st, sw = ctx.shapes
        shape = np.broadcast_shapes(sx, st)
        l, dx, dt = _pointwise_graph(ctx.kind, x, t, X, T, ctx.params, nx, nt, nw)
        g = gy
        if ctx.reduction == "mean":
            g = gy / (w.sum() if ctx.weighted_mean else ctx.denom)
        gl = g if w is None else g * w            # the gradient of each unweighted term
        gx = sum_to(_expand(gl * dx, shape), sx) if nx else None
        gt = sum_to(_expand(gl * dt, shape), st) if nt else None
        gw = None
        if nw:
            gw = g * (l - (w * l).sum() / w.sum()) if ctx.weighted_mean else g * l
            gw = sum_to(_expand(gw, shape), sw)
        return gx, gt, gw


# ----------------------------------------------------------------------------- cross-entropy

def log_softmax_array(z, axis=1):
    """``log_softmax`` along ``axis``, shifted by the max so no ``exp`` overflows."""
    m = z.max(axis=axis, keepdims=True)
    s = z - np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore", invalid="ignore"):  # a row of -inf gives nan, as torch
        return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _class_shape(w, ndim):
    """The class weight ``(C,)`` as ``(1, C, 1, ...)``, to broadcast over ``(N, C, *)``."""
    return w.reshape((1, -1) + (1,) * (ndim - 2))


def _reduce(l, reduction, denom):
    if reduction == "none":
        return l
    if reduction == "sum":
        return np.asarray(l.sum())
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 = nan, as torch
        return np.asarray(l.sum() / denom)


def _upstream(gy, reduction, denom, shape):
    """The gradient of each sample's loss from the gradient of the reduced loss."""
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            gy = gy / denom
    return np.broadcast_to(gy, shape)


def _index_setup(t, w, ignore_index, dtype):
    """Safe class indices, the valid mask, and each sample's class weight (0 if ignored)."""
    valid = t != ignore_index
    ts = np.where(valid, t, 0)[:, None]              # (N, 1, *): indices for take_along_axis
    vf = valid.astype(dtype)
    wt = vf if w is None else w[ts[:, 0]] * vf       # (N, *)
    return valid, ts, wt


class CrossEntropy(Function):
    """Cross-entropy of logits ``z (N, C, *)`` (fused ``log_softmax`` + NLL).

    Inputs: ``z``; ``t``, class indices ``(N, *)`` (a constant) or class probabilities
    ``(N, C, *)`` (differentiable); ``w``, class weights ``(C,)`` or ``None`` (differentiable
    only with probability targets, as torch). ``z`` may be unbatched ``(C,)`` with ``t`` of
    shape ``()`` or ``(C,)``.

    Keywords: ``probs`` (whether ``t`` holds probabilities), ``ignore_index``, ``reduction``,
    ``label_smoothing``.

    Per sample, loss ``= -sum_c a_c log_softmax(z)_c`` with
    ``a = w * ((1 - eps) onehot(t) + eps / C)`` (indices; ignored samples have ``a = 0``) or
    ``a = w * ((1 - eps) t + eps / C)`` (probabilities). Backward: ``gz = g ((sum a) p - a)``
    with ``p = softmax(z)``; ``gt = -g (1 - eps) w log p``; ``gw = -sum g t' log p``.
    """

    @staticmethod
    def forward(ctx, z, t, w, *, probs, ignore_index=-100, reduction="mean",
                label_smoothing=0.0):
        ctx.unbatched = z.ndim == 1
        ctx.z_shape, ctx.t_shape = z.shape, np.shape(t)
        ctx.fast = False
        if (not probs and w is None and label_smoothing == 0 and z.ndim == 2 and z.shape[0]
                and reduction in ("mean", "sum") and z.dtype.kind == "f"):
            out = CrossEntropy._forward_fast(ctx, z, t, ignore_index, reduction)
            if out is not None:
                return out
        if ctx.unbatched:
            z, t = z[None], np.asarray(t)[None]      # (1, C), (1,) or (1, C)
        C = z.shape[1]
        eps = label_smoothing
        lp = log_softmax_array(z)                    # (N, C, *)
        wb = 1 if w is None else _class_shape(w, z.ndim)
        if probs:
            tt = t * (1 - eps) + eps / C if eps > 0 else t
            a = tt * wb                              # (N, C, *)
            l = -(lp * a).sum(axis=1)                # (N, *)
            denom = l.size
            ctx.save_for_backward(lp, tt, a, w, t)   # t: for a create_graph backward
        else:
            valid, ts, wt = _index_setup(t, w, ignore_index, z.dtype)
            l = -wt * np.take_along_axis(lp, ts, axis=1)[:, 0]           # (N, *)
            if eps > 0:
                smooth = -(lp * wb).sum(axis=1) * valid                 # (N, *)
                l = (1 - eps) * l + (eps / C) * smooth
            denom = wt.sum()
            ctx.save_for_backward(lp, valid, ts, wt, w)
        ctx.probs, ctx.eps, ctx.reduction, ctx.denom = probs, eps, reduction, denom
        out = _reduce(l, reduction, denom)
        return out.reshape(()) if ctx.unbatched else out

    @staticmethod
    def _forward_fast(ctx, z, t, ignore_index, reduction):
        """The common case, logits ``(N, C)``, class indices with none ignored, no weights or
        smoothing, mean or sum: ``loss_i = log(sum exp(s_i)) - s_i[t_i]`` with
        ``s = z - max(z)``; keeps ``softmax(z)`` for the backward. ``None``: not applicable
        (a row with an infinite or NaN maximum, an ignored target)."""
        t = np.asarray(t)
        if t.shape != z.shape[:1] or t.dtype.kind not in "iu" or (t == ignore_index).any():
            return None
        m = z.max(axis=1, keepdims=True)                              # (N, 1)
        if not np.isfinite(m).all():
            return None
        s = z - m                                                     # (N, C)
        e = np.exp(s)
        se = e.sum(axis=1, keepdims=True)                             # (N, 1)
        rows = np.arange(z.shape[0])
        l = np.log(se[:, 0]) - s[rows, t]                             # (N,)
        n = z.shape[0] if reduction == "mean" else 1
        if ctx.needs_input_grad[0]:
            e /= se                                                   # softmax
            ctx.fast, ctx.p, ctx.rows, ctx.t, ctx.n = True, e, rows, t, n
        return np.asarray(l.sum() / n)

    @staticmethod
    def backward(ctx, gy):
        if ctx.fast:
            g = (gy / ctx.n).astype(ctx.p.dtype, copy=False)
            gz = ctx.p * g
            gz[ctx.rows, ctx.t] -= g
            return gz, None, None
        nz, nt, nw = ctx.needs_input_grad
        eps = ctx.eps
        if ctx.unbatched and ctx.reduction == "none":
            gy = gy.reshape(1)
        if ctx.probs:
            lp, tt, a, w = ctx.saved_tensors[:4]
            g = _upstream(gy, ctx.reduction, ctx.denom, lp.shape[:1] + lp.shape[2:])[:, None]
            gz = gt = gw = None
            if nz:
                gz = (np.exp(lp) * a.sum(axis=1, keepdims=True) - a) * g   # (N, C, *)
            if nt:
                wb = 1 if w is None else _class_shape(w, lp.ndim)
                gt = (-(1 - eps) * g) * lp * wb
            if nw:
                axes = (0,) + tuple(range(2, lp.ndim))
                gw = -(g * lp * tt).sum(axis=axes)                          # (C,)
        else:
            lp, valid, ts, wt, w = ctx.saved_tensors
            C = lp.shape[1]
            g = np.where(valid, _upstream(gy, ctx.reduction, ctx.denom, wt.shape), 0)
            g = g.astype(lp.dtype, copy=False)
            sum_w = C if w is None else w.sum()
            vf = valid.astype(lp.dtype)       # a Python float times a bool array is float64
            coef = (1 - eps) * wt + (eps / C) * sum_w * vf                   # sum_c a_c
            gz = np.exp(lp) * (g * coef)[:, None]                           # (N, C, *)
            if eps > 0:
                wb = 1 if w is None else _class_shape(w, lp.ndim)
                gz -= (eps / C) * g[:, None] * wb
            at_t = np.take_along_axis(gz, ts, axis=1)
            np.put_along_axis(gz, ts, at_t - ((1 - eps) * g * wt)[:, None], axis=1)
            gt = gw = None
        if ctx.unbatched:
            gz = None if gz is None else gz.reshape(ctx.z_shape)
            gt = None if gt is None else gt.reshape(ctx.t_shape)
        return gz, gt, gw

    @staticmethod
    def backward_graph(ctx, gy):
        # The loss depends on the logits only through softmax, which is shift-invariant, so
        # the saved log_softmax stands in for them: the graph of z is evaluated at
        # lp = z - logsumexp(z), which gives the same values and derivatives.
        nz, nt, nw = ctx.needs_input_grad
        if ctx.fast:
            if not nz:
                return None, None, None
            with np.errstate(divide="ignore"):
                lp = np.log(ctx.p)
            N = lp.shape[0]
            valid, ts, wt, w = np.ones(N, bool), ctx.t[:, None], np.ones(N, lp.dtype), None
            eps, probs, reduction, denom = 0.0, False, "mean", ctx.n     # n = 1 for 'sum'
        else:
            saved = ctx.saved_tensors
            lp, eps, probs = saved[0], ctx.eps, ctx.probs
            reduction, denom = ctx.reduction, ctx.denom
        z = ctx.input_graph(0, lp.reshape(ctx.z_shape)).reshape(lp.shape) if nz else None
        if ctx.unbatched and reduction == "none":
            gy = gy.reshape(1)
        N, C = lp.shape[:2]
        col = (N, 1) + lp.shape[2:]                                  # (N, 1, *)
        gz = gt = gw = None
        if probs:
            _, _, _, w, t = ctx.saved_graph()
            if ctx.unbatched:
                t = t.reshape(lp.shape)
            g = _upstream_graph(gy, reduction, denom, lp.shape[:1] + lp.shape[2:]).reshape(col)
            tt = t * (1 - eps) + eps / C if eps > 0 else t
            wb = 1 if w is None else w.reshape((1, C) + (1,) * (lp.ndim - 2))
            a = tt * wb                                              # (N, C, *)
            if nz:
                gz = g * (_softmax_graph(z) * a.sum(dim=1, keepdim=True) - a)
            if nt or nw:
                lpg = _log_softmax_graph(ctx.input_graph(0, lp.reshape(ctx.z_shape))
                                         .reshape(lp.shape))
                if nt:
                    gt = (g * (-(1 - eps))) * lpg * wb
                    gt = gt.reshape(ctx.t_shape) if ctx.unbatched else gt
                if nw:
                    gw = -(g * lpg * tt).sum(dim=(0,) + tuple(range(2, lp.ndim)))
        elif nz:
            if not ctx.fast:
                valid, ts, wt, w = saved[1:]
            g = _masked(_upstream_graph(gy, reduction, denom, wt.shape), valid)  # (N, *)
            sum_w = C if w is None else w.sum()
            coef = ((1 - eps) * wt + (eps / C) * sum_w * valid).astype(lp.dtype)
            gz = _softmax_graph(z) * (g * coef).reshape(col)
            if eps > 0:
                wb = np.ones(1, lp.dtype) if w is None else _class_shape(w, lp.ndim)
                gz = gz - g.reshape(col) * ((eps / C) * wb).astype(lp.dtype)
            at_t = (g * ((1 - eps) * wt).astype(lp.dtype)).reshape(col)
            gz = gz - IndexAccumulate.apply(at_t, shape=lp.shape, index=along_axis(ts, 1))
        if ctx.unbatched and gz is not None:
            gz = gz.reshape(ctx.z_shape)
        return gz, gt, gw


class NllLoss(Function):
    """Negative log-likelihood of log-probabilities ``x (N, C, *)`` (or ``(C,)``) at class
    indices ``t (N, *)`` (or ``()``), with class weights ``w`` (a constant) and ``ignore_index``.

    Loss per sample ``-w[t] x[t]`` (0 if ignored); backward scatters ``-g w[t]`` to ``x[t]``.
    """

    @staticmethod
    def forward(ctx, x, t, w, *, ignore_index=-100, reduction="mean"):
        ctx.unbatched = x.ndim == 1
        ctx.x_shape = x.shape
        if ctx.unbatched:
            x, t = x[None], np.asarray(t)[None]
        valid, ts, wt = _index_setup(t, w, ignore_index, x.dtype)
        l = -wt * np.take_along_axis(x, ts, axis=1)[:, 0]                   # (N, *)
        denom = wt.sum()
        ctx.save_for_backward(valid, ts, wt)
        ctx.x2_shape, ctx.reduction, ctx.denom = x.shape, reduction, denom
        out = _reduce(l, reduction, denom)
        return out.reshape(()) if ctx.unbatched else out

    @staticmethod
    def backward(ctx, gy):
        valid, ts, wt = ctx.saved_tensors
        if ctx.unbatched and ctx.reduction == "none":
            gy = gy.reshape(1)
        g = np.where(valid, _upstream(gy, ctx.reduction, ctx.denom, wt.shape), 0)
        gx = np.zeros(ctx.x2_shape, dtype=wt.dtype)                          # (N, C, *)
        np.put_along_axis(gx, ts, (-g * wt).astype(wt.dtype, copy=False)[:, None], axis=1)
        return gx.reshape(ctx.x_shape), None, None

    @staticmethod
    def backward_graph(ctx, gy):
        valid, ts, wt = ctx.saved_tensors
        if ctx.unbatched and ctx.reduction == "none":
            gy = gy.reshape(1)
        g = _masked(_upstream_graph(gy, ctx.reduction, ctx.denom, wt.shape), valid)
        at_t = (g * (-wt)).reshape(ts.shape)                                  # (N, 1, *)
        gx = IndexAccumulate.apply(at_t, shape=ctx.x2_shape, index=along_axis(ts, 1))
        return gx.reshape(ctx.x_shape), None, None


# ----------------------------------------------------------------------------- double backward
#
# ``backward_graph`` of the losses: the same formulas as ``backward``, on graph Tensors. Masks
# and signs (piecewise constants of the inputs) are NumPy constants.

def _expand(a, shape):
    """``a`` (a Tensor) broadcast to ``shape``."""
    return a if tuple(a.shape) == tuple(shape) else Expand.apply(a, shape=tuple(shape))


def _upstream_graph(gy, reduction, denom, shape):
    """``_upstream`` on a graph Tensor."""
    if reduction == "mean":
        gy = gy / denom
    return _expand(gy, shape)


def _masked(g, valid):
    """``where(valid, g, 0)`` on a graph Tensor (a NaN of an ignored sample stays out)."""
    if valid.all():
        return g
    return IndexAccumulate.apply(Getitem.apply(g, index=valid), shape=valid.shape, index=valid)


def _softmax_graph(z):
    """``softmax(z)`` along axis 1 of a graph Tensor (shifted by a constant max)."""
    m = z._data.max(axis=1, keepdims=True)
    e = (z - np.where(np.isfinite(m), m, 0)).exp()
    return e / e.sum(dim=1, keepdim=True)


def _log_softmax_graph(z):
    """``log_softmax(z)`` along axis 1 of a graph Tensor."""
    m = z._data.max(axis=1, keepdims=True)
    s = z - np.where(np.isfinite(m), m, 0)
    return s - s.exp().sum(dim=1, keepdim=True).log()


def _pointwise_graph(kind, x, t, X, T, params, nx, nt, nl):
    """The term ``l`` (if ``nl``) and ``dl/dx``, ``dl/dt`` of ``POINTWISE[kind]`` as graph
    Tensors of ``x`` and ``t`` (``X``, ``T``: their arrays), or constants; ``None`` where not
    needed. ``l`` is given for the losses with a differentiable weight (mse, l1, huber) and
    the ones as simple (smooth_l1, kl_div)."""
    dtype = np.result_type(X, T)

    def c(a):
        return np.asarray(a, dtype=dtype)

    if kind == "smooth_l1" and params["beta"] == 0:
        kind = "l1"
    if kind in ("mse", "l1", "smooth_l1", "huber"):
        d, D = x - t, X - T
        s = c(np.sign(D))
        if kind == "mse":
            l, dx = (d * d if nl else None), d * 2.0
        elif kind == "l1":
            l, dx = (d * s if nl else None), s
        elif kind == "smooth_l1":
            beta = params["beta"]
            m = c(np.abs(D) < beta)
            l = d * d * (m * (0.5 / beta)) + (d * s - 0.5 * beta) * (1 - m) if nl else None
            dx = d * (m / beta) + s * (1 - m)
        else:
            delta = params["delta"]
            m = c(np.abs(D) < delta)
            l = (d * d * (0.5 * m) + (d * s - 0.5 * delta) * (delta * (1 - m))) if nl else None
            dx = d * m + (delta * s) * (1 - m)            # clip(d, -delta, delta)
        return l, dx, -dx
    if kind == "bce":                                      # its weight is a constant
        m = c((1 - X) * X > _BCE_EPS)
        dx = (x - t) / ((1 - x) * x * m + _BCE_EPS * (1 - m)) if nx else None
        dt = -(x / (1 - x)).log() if nt else None
        return None, dx, dt
    if kind == "bce_logits":                               # its weight is a constant
        M = c(X >= 0)
        e = (x * (1 - 2 * M)).exp()                        # exp(-|x|)
        sig = (e * (1 - M) + M) / (e + 1)
        pw = params.get("pos_weight")
        if pw is None:
            return None, (sig - t if nx else None), (-x if nt else None)
        pw = c(pw)
        dx = (t * (pw - 1) + 1) * sig - t * pw if nx else None
        dt = ((e + 1).log() + x * (M - 1)) * (pw - 1) - x if nt else None   # softplus(-x)
        return None, dx, dt
    if kind == "kl_div":
        if params.get("log_target"):
            e = t.exp()
            l = e * (t - x)
            return l, -e, l + e
        nz = c(T != 0)
        log_t = (t * nz + (1 - nz)).log() if nt or nl else None     # xlogy: 0 log 0 = 0
        l = t * log_t - t * x if nl else None
        return l, -t, (log_t + t / t - x if nt else None)
    raise NotImplementedError(f"backward_graph of the pointwise loss {kind!r}")
