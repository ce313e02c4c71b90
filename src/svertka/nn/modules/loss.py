"""Loss modules: hold the options, call the functional loss."""

from __future__ import annotations

from svertka import _validate as V
from svertka.nn import functional as F
from svertka.nn.modules.module import Module

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = V.check_choice(reduction, _REDUCTIONS, "reduction", type(self).__name__)


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits against class indices or class probabilities, as
    ``torch.nn.CrossEntropyLoss``: ``log_softmax`` over the class dimension, then ``NLLLoss``; see
    :func:`svertka.nn.functional.cross_entropy`.

    Args:
        weight (Tensor, optional): a weight per class, shape ``(C,)``.
        ignore_index (int): a target index that adds nothing to the loss or the mean.
            Default: -100.
        reduction (str): ``'mean'`` (default), ``'sum'`` or ``'none'`` (one loss per sample).
        label_smoothing (float): mix the target with the uniform distribution by this amount.
            Default: 0.0.

    Shape:
        - Input: ``(N, C)``, ``(C)`` or ``(N, C, d1, ...)``: logits.
        - Target: ``(N)`` or ``(N, d1, ...)`` class indices in ``[0, C)``, or the input's shape
          for class probabilities.
        - Output: a scalar, or ``(N)`` / ``(N, d1, ...)`` with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> loss = svertka.nn.CrossEntropyLoss()
        >>> round(loss(svertka.zeros(4, 10), svertka.tensor([1, 2, 3, 4])).item(), 4)  # log(10)
        2.3026
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """The negative log-likelihood ``-input[n, target[n]]`` of log-probabilities, as
    ``torch.nn.NLLLoss``; ``CrossEntropyLoss`` is ``log_softmax`` followed by it.

    Args:
        weight (Tensor, optional): a weight per class, shape ``(C,)``.
        ignore_index (int): a target value that adds nothing to the loss or the mean. Default: -100.
        reduction (str): ``'mean'`` (default), ``'sum'`` or ``'none'`` (one loss per element).

    Shape:
        - Input: ``(N, C)`` or ``(N, C, d1, ...)``: log-probabilities.
        - Target: ``(N)`` or ``(N, d1, ...)``: class indices in ``[0, C)``.
        - Output: a scalar, or the target's shape with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> logp = svertka.tensor([[-1., -2., -3.], [-4., -5., -6.]])
        >>> svertka.nn.NLLLoss()(logp, svertka.tensor([0, 2]))
        tensor(3.5000)
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """The mean squared error ``(x - y) ** 2``, as ``torch.nn.MSELoss``.

    Args:
        reduction (str): ``'mean'`` (default), ``'sum'`` or ``'none'`` (one loss per element).

    Shape:
        - Input: ``(*)``, any shape.
        - Target: ``(*)``, the shape of the input.
        - Output: a scalar, or ``(*)`` with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> svertka.nn.MSELoss()(svertka.tensor([1., 2., 3.]), svertka.tensor([1., 0., 0.]))
        tensor(4.3333)
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """The mean absolute error ``|x - y|``, as ``torch.nn.L1Loss``.

    Args:
        reduction (str): ``'mean'`` (default), ``'sum'`` or ``'none'`` (one loss per element).

    Shape:
        - Input: ``(*)``, any shape.
        - Target: ``(*)``, the shape of the input.
        - Output: a scalar, or ``(*)`` with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> svertka.nn.L1Loss()(svertka.tensor([1., 2., 3.]), svertka.tensor([1., 0., 0.]))
        tensor(1.6667)
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """``0.5 * d ** 2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 * beta`` (``d = x - y``), as
    ``torch.nn.SmoothL1Loss``.

    Args:
        reduction (str): ``'mean'`` (default), ``'sum'`` or ``'none'`` (one loss per element).
        beta (float): where the loss turns from quadratic to linear. Default: 1.0.

    Shape:
        - Input: ``(*)``, any shape.
        - Target: ``(*)``, the shape of the input.
        - Output: a scalar, or ``(*)`` with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> svertka.nn.SmoothL1Loss()(svertka.tensor([1., 2., 3.]), svertka.tensor([1., 0., 0.]))
        tensor(1.3333)
    """

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """``0.5 * d ** 2`` where ``|d| <= delta``, else ``delta * (|d| - 0.5 * delta)`` (``d = x -
    y``), as ``torch.nn.HuberLoss``.

    Args:
        reduction (str): ``'mean'`` (default), ``'sum'`` or ``'none'`` (one loss per element).
        delta (float): where the loss turns from quadratic to linear. Default: 1.0.

    Shape:
        - Input: ``(*)``, any shape.
        - Target: ``(*)``, the shape of the input.
        - Output: a scalar, or ``(*)`` with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> loss = svertka.nn.HuberLoss(delta=2.0)
        >>> loss(svertka.tensor([1., 2., 3.]), svertka.tensor([1., 0., 0.]))
        tensor(2.)
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """The binary cross-entropy ``-(y * log(x) + (1 - y) * log(1 - x))`` of probabilities, as
    ``torch.nn.BCELoss`` (each log clamped at -100).

    Args:
        weight (Tensor, optional): a weight broadcast against the input.
        reduction (str): ``'mean'`` (default), ``'sum'`` or ``'none'`` (one loss per element).

    Shape:
        - Input: ``(*)``, any shape.
        - Target: ``(*)``, the shape of the input.
        - Output: a scalar, or ``(*)`` with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> svertka.nn.BCELoss()(svertka.tensor([0.5, 0.5]), svertka.tensor([1., 0.]))
        tensor(0.6931)
    """

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """``BCELoss`` of ``sigmoid(input)``, computed stably from the logits, as
    ``torch.nn.BCEWithLogitsLoss``.

    Args:
        weight (Tensor, optional): a weight broadcast against the input.
        reduction (str): ``'mean'`` (default), ``'sum'`` or ``'none'`` (one loss per element).
        pos_weight (Tensor, optional): a weight of the positive term per class (broadcast
            along the last dimension).

    Shape:
        - Input: ``(*)``, any shape.
        - Target: ``(*)``, the shape of the input.
        - Output: a scalar, or ``(*)`` with ``reduction='none'``.

    Examples::

        >>> import svertka
        >>> svertka.nn.BCEWithLogitsLoss()(svertka.zeros(2), svertka.tensor([1., 0.]))
        tensor(0.6931)
    """

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
