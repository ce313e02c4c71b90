"""Affine maps as Functions: ``Linear`` (``x W^T + b``) and ``Bilinear`` (``x1^T A x2 + b``).

Both flatten the leading dimensions of their inputs to one batch axis ``B`` so that forward and
backward are plain GEMMs (matrix products), whatever the number of leading dimensions:

* ``Linear``: ``y = x W^T + b``; ``gx = gy W``, ``gW = gy^T x``, ``gb = sum_B gy``.
* ``Bilinear``: ``y_o = sum_ij x1_i W_oij x2_j + b_o``; each gradient is one GEMM against the
  weight viewed as a matrix (see ``Bilinear.backward``).
"""

from __future__ import annotations

import math

import numpy as np

from svertka.autograd.function import Function
from svertka.autograd.graph import sum_to
from svertka.kernels import gemm
from svertka.ops.elementwise import unbroadcast
from svertka.ops.linalg import Einsum
from svertka.ops.matmul import MatMul, SwapLast
from svertka.ops.movement import Reshape

__all__ = ["Linear", "Bilinear"]


def _rows(x):
    """``x`` as a matrix ``(B, features)``; ``B`` is the product of the leading dims."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


class Linear(Function):
    """``y = x @ w.T + b`` for ``x (*, in)``, ``w (out, in)``, ``b`` broadcastable to
    ``(out,)`` or ``None``.

    Backward: ``gx = gy @ w``, ``gw = gy^T @ x`` over the flattened leading dims, ``gb`` the sum
    of ``gy`` over them.
    """

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx.b_shape = None if b is None else np.shape(b)
        y = gemm.matmul(_rows(x), w.T)                            # (B, out)
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (w.shape[0],))  # (*, out)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        gy2 = gy.reshape(math.prod(x.shape[:-1]), w.shape[0])  # (B, out)
        gx = gemm.matmul(gy2, w).reshape(x.shape) if nx else None  # (B, in) -> (*, in)
        gw = gemm.matmul(gy2.T, _rows(x)) if nw else None      # (out, in)
        gb = unbroadcast(gy2.sum(axis=0), ctx.b_shape) if nb else None  # (out,)
        return gx, gw, gb

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        x, w = ctx.saved_graph()
        nx, nw, nb = ctx.needs_input_grad
        B = math.prod(x.shape[:-1])
        gy2 = Reshape.apply(gy, shape=(B, w.shape[0]))                          # (B, out)
        gx = Reshape.apply(MatMul.apply(gy2, w), shape=x.shape) if nx else None  # (*, in)
        gw = MatMul.apply(SwapLast.apply(gy2), Reshape.apply(x, shape=(B, x.shape[-1]))) \
            if nw else None                                                     # (out, in)
        gb = sum_to(gy2.sum(dim=0), ctx.b_shape) if nb else None                 # (out,)
        return gx, gw, gb


class Bilinear(Function):
    """``y[..., o] = sum_ij x1[..., i] w[o, i, j] x2[..., j] + b[o]`` for ``x1 (*, in1)``,
    ``x2 (*, in2)``, ``w (out, in1, in2)``, ``b (out,)`` or ``None``.

    Forward and backward are GEMMs against ``w`` seen as a matrix:
    ``gx1 = (gy x2^T) . w``, ``gx2 = (gy x1^T) . w``, ``gw = sum_B gy x1 x2``.
    """

    @staticmethod
    def forward(ctx, x1, x2, w, b):
        ctx.save_for_backward(x1, x2, w)
        O, I, J = w.shape
        a, c = _rows(x1), _rows(x2)                                  # (B, I), (B, J)
        t = gemm.matmul(a, w.transpose(1, 0, 2).reshape(I, O * J))  # (B, O*J)
        y = gemm.matmul(t.reshape(len(a), O, J), c[:, :, None])[:, :, 0]  # (B, O); O may be 0
        if b is not None:
            y += b
        return y.reshape(x1.shape[:-1] + (O,))                       # (*, O)

    @staticmethod
    def backward(ctx, gy):
        x1, x2, w = ctx.saved_tensors
        n1, n2, nw, nb = ctx.needs_input_grad
        O, I, J = w.shape
        a, c = _rows(x1), _rows(x2)                                  # (B, I), (B, J)
        g = gy.reshape(a.shape[0], O)                                # (B, O)
        gx1 = gx2 = gw = gb = None
        if n1:
            u = (g[:, :, None] * c[:, None, :]).reshape(len(a), O * J)  # (B, O*J)
            gx1 = gemm.matmul(u, w.transpose(0, 2, 1).reshape(O * J, I)).reshape(x1.shape)
        if n2 or nw:
            v = (g[:, :, None] * a[:, None, :]).reshape(len(a), O * I)  # (B, O*I)
            if n2:
                gx2 = gemm.matmul(v, w.reshape(O * I, J)).reshape(x2.shape)  # (B, J)
            if nw:
                gw = gemm.matmul(v.T, c).reshape(O, I, J)                  # (O*I, J)
        if nb:
            gb = g.sum(axis=0)                                       # (O,)
        return gx1, gx2, gw, gb

    @staticmethod
    def backward_graph(ctx, gy):
        """The same gradients as einsums of graph Tensors over the flattened batch ``b``."""
        x1, x2, w = ctx.saved_graph()
        n1, n2, nw, nb = ctx.needs_input_grad
        O, I, J = w.shape
        B = math.prod(x1.shape[:-1])
        a = Reshape.apply(x1, shape=(B, I))                                      # (B, I)
        c = Reshape.apply(x2, shape=(B, J))                                      # (B, J)
        g = Reshape.apply(gy, shape=(B, O))                                      # (B, O)
        gx1 = gx2 = gw = gb = None
        if n1:
            gx1 = Reshape.apply(Einsum.apply(g, w, c, ins=["bo", "oij", "bj"], out="bi"),
                                shape=x1.shape)
        if n2:
            gx2 = Reshape.apply(Einsum.apply(g, w, a, ins=["bo", "oij", "bi"], out="bj"),
                                shape=x2.shape)
        if nw:
            gw = Einsum.apply(g, a, c, ins=["bo", "bi", "bj"], out="oij")        # (O, I, J)
        if nb:
            gb = g.sum(dim=0)                                                    # (O,)
        return gx1, gx2, gw, gb
