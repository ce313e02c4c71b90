"""svertka.autograd: reverse-mode automatic differentiation.

``Function`` is the base of every differentiable op, ``grad`` computes gradients without
touching ``.grad`` (with ``create_graph=True``, gradients that can be differentiated again:
see ``autograd.graph``), ``gradcheck``/``gradgradcheck`` compare first and second derivatives
with finite differences, ``functional`` has ``jacobian``/``hessian``/``vjp``/``jvp``/``hvp``/
``vhp``, and ``no_grad``/``enable_grad`` switch graph recording off and on.
"""

from __future__ import annotations

from svertka.autograd import functional
from svertka.autograd.function import Context, Function
from svertka.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from svertka.autograd.gradcheck import gradcheck, gradgradcheck
from svertka.autograd.gradients import grad

__all__ = ["Function", "Context", "grad", "gradcheck", "gradgradcheck", "functional",
           "no_grad", "enable_grad",
           "is_grad_enabled", "set_grad_enabled", "inference_mode"]
