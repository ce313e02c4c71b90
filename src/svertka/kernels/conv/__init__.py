"""The one N-d convolution core: every convolution of svertka reduces to this package.

conv1d/2d/3d, grouped and depthwise, transposed, unfold/fold: all run here, on NumPy arrays.
Read it in this order:

* ``reference.py``: the plain direct convolution (forward, input and weight gradient), a
  loop over kernel offsets; the tests' second oracle;
* ``geometry.py``: output sizes, ``'same'`` padding, the slab a kernel offset reads;
* ``plan.py``: the one place that chooses the algorithm and path of each pass and holds
  every tunable; its entries ``conv_forward`` / ``conv_backward`` (and
  ``conv_transpose_forward`` / ``conv_transpose_backward``) are what ``ops.conv`` calls;
* the algorithms: ``columns.py`` (im2col: column matrices and GEMMs, the default; not named
  ``im2col.py`` so that it does not hide the ``im2col`` function exported here), ``depthwise.py``
  (stride-1 depthwise in cache-sized blocks), ``implicit.py`` (a GEMM per kernel offset),
  ``fft.py`` (the convolution theorem) and ``direct.py`` (an ``einsum`` per offset);
* ``workspace.py``: the reused scratch memory and the budget of kept column matrices.

The user-facing settings (the algorithm, thread counts, the workspace) are in
``svertka.backends``, which writes into ``plan``; nothing here imports it.
"""

from __future__ import annotations

from svertka.kernels.conv.columns import col2im, im2col
from svertka.kernels.conv.fft import conv_fft
from svertka.kernels.conv.geometry import conv_out_shape, same_pads
from svertka.kernels.conv.plan import (
                                       Saved,
                                       conv_backward,
                                       conv_forward,
                                       conv_input_grad,
                                       conv_transpose_backward,
                                       conv_transpose_forward,
                                       conv_weight_grad,
                                       release,
)
from svertka.kernels.conv.workspace import WORKSPACE, kept_bytes

__all__ = ["same_pads", "conv_out_shape", "im2col", "col2im", "conv_forward", "conv_backward",
           "conv_input_grad", "conv_weight_grad", "conv_transpose_forward",
           "conv_transpose_backward", "conv_fft", "Saved", "release", "kept_bytes",
           "WORKSPACE"]
