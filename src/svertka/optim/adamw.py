"""`AdamW`: Adam with decoupled weight decay (Loshchilov & Hutter)."""

from __future__ import annotations

from svertka.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW, as ``torch.optim.AdamW``: Adam whose weight decay scales the weights directly
    (``p = p * (1 - lr * weight_decay)``) instead of adding to the gradient.

    Args:
        params (iterable): Tensors to optimize, or dicts defining parameter groups.
        lr (float): learning rate. Default: ``1e-3``.
        betas (Tuple[float, float]): running-average decay rates. Default: ``(0.9, 0.999)``.
        eps (float): added to the denominator for numerical stability. Default: ``1e-8``.
        weight_decay (float): decoupled weight decay coefficient. Default: ``1e-2``.
        amsgrad (bool): use the AMSGrad variant. Default: ``False``.
        maximize (bool): maximize the objective instead of minimizing. Default: ``False``.

    Examples::

        >>> import svertka
        >>> w = svertka.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = svertka.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8500, -1.8000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
