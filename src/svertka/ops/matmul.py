"""Matrix product with NumPy/torch semantics (1-D operands, batch broadcasting)."""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function
from svertka.kernels import gemm
from svertka.ops.elementwise import unbroadcast


class SwapLast(Function):
    """The last two axes swapped (a view): the matrix transpose in ``MatMul``'s and
    ``Linear``'s double backward. Its own adjoint."""

    is_view = True

    @staticmethod
    def forward(ctx, a):
        return np.swapaxes(a, -1, -2)

    @staticmethod
    def backward(ctx, gy):
        return np.swapaxes(gy, -1, -2)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        return SwapLast.apply(gy)


class MatMul(Function):
    """``a @ b``. Backward: ``ga = gy @ b^T`` and ``gb = a^T @ gy``, summed over broadcast
    batch dimensions; 1-D operands are treated as a row (left) or a column (right) vector."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.asarray(gemm.matmul(a, b))

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        a2 = a[None, :] if a.ndim == 1 else a          # (..., n, k)
        b2 = b[:, None] if b.ndim == 1 else b          # (..., k, m)
        g2 = gy
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)                # (..., n, 1); first, for a 0-d gy
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)                # (..., 1, m)
        ga = gb = None
        if na:
            ga = gemm.matmul(g2, np.swapaxes(b2, -1, -2))  # (..., n, k)
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if nb:
            gb = gemm.matmul(np.swapaxes(a2, -1, -2), g2)  # (..., k, m)
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        from svertka.autograd.graph import sum_to
        from svertka.ops.movement import Reshape

        a, b = ctx.saved_graph()
        na, nb = ctx.needs_input_grad
        sa, sb = a.shape, b.shape
        a2 = Reshape.apply(a, shape=(1,) + sa) if len(sa) == 1 else a        # (..., n, k)
        b2 = Reshape.apply(b, shape=sb + (1,)) if len(sb) == 1 else b        # (..., k, m)
        g2 = gy
        if len(sb) == 1:
            g2 = Reshape.apply(g2, shape=tuple(g2.shape) + (1,))              # (..., n, 1)
        if len(sa) == 1:
            g2 = Reshape.apply(g2, shape=tuple(g2.shape[:-1]) + (1, g2.shape[-1]))  # (..., 1, m)
        ga = gb = None
        if na:
            ga = MatMul.apply(g2, SwapLast.apply(b2))                          # (..., n, k)
            ga = Reshape.apply(sum_to(ga, a2.shape), shape=sa)
        if nb:
            gb = MatMul.apply(SwapLast.apply(a2), g2)                          # (..., k, m)
            gb = Reshape.apply(sum_to(gb, b2.shape), shape=sb)
        return ga, gb
