"""Matrix product with NumPy/torch semantics (1-D operands, batch broadcasting)."""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function
from svertka.kernels import gemm
from svertka.ops.elementwise import unbroadcast


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
