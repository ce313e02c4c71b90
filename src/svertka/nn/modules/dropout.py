"""Dropout layers: active in ``train()`` mode, the identity in ``eval()`` mode."""

from __future__ import annotations

from svertka import _validate as V
from svertka.nn import functional as F
from svertka.nn.modules.module import Module


class _DropoutNd(Module):
    _fn = "dropout"

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = V.check_probability(p, "p", type(self).__name__)
        self.inplace = inplace

    def forward(self, input):
        return getattr(F, self._fn)(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout, as ``torch.nn.Dropout``: in training, zero each element with probability
    ``p`` and scale the rest by ``1 / (1 - p)``; in eval mode, the identity.

    The mask comes from NumPy's generator (``svertka.manual_seed``), so a seed gives other masks
    than in torch.

    Args:
        p (float): the probability of zeroing an element. Default: 0.5.
        inplace (bool): modify the input in place. Default: ``False``.

    Shape:
        - Input: ``(*)``, any shape.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> drop = svertka.nn.Dropout(0.5)
        >>> y = drop(svertka.ones(1000))
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
        >>> drop.eval()(svertka.ones(3))
        tensor([1., 1., 1.])
    """

    _fn = "dropout"


class Dropout1d(_DropoutNd):
    """Zero whole channels of ``(N, C, L)`` with probability ``p`` in training, scaling the rest
    by ``1 / (1 - p)``, as ``torch.nn.Dropout1d``; the identity in eval mode.

    Args:
        p (float): the probability of zeroing a channel. Default: 0.5.
        inplace (bool): modify the input in place. Default: ``False``.

    Shape:
        - Input: ``(N, C, L)`` or ``(C, L)``.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Dropout1d(0.2)(svertka.randn(4, 8, 16)).shape
        svertka.Size([4, 8, 16])
    """

    _fn = "dropout1d"


class Dropout2d(_DropoutNd):
    """Zero whole channels of ``(N, C, H, W)`` with probability ``p`` in training, scaling the
    rest by ``1 / (1 - p)``, as ``torch.nn.Dropout2d``; the identity in eval mode.

    Args:
        p (float): the probability of zeroing a channel. Default: 0.5.
        inplace (bool): modify the input in place. Default: ``False``.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Dropout2d(0.2)(svertka.randn(4, 8, 16, 16)).shape
        svertka.Size([4, 8, 16, 16])
    """

    _fn = "dropout2d"


class Dropout3d(_DropoutNd):
    """Zero whole channels of ``(N, C, D, H, W)`` with probability ``p`` in training, scaling the
    rest by ``1 / (1 - p)``, as ``torch.nn.Dropout3d``; the identity in eval mode.

    Args:
        p (float): the probability of zeroing a channel. Default: 0.5.
        inplace (bool): modify the input in place. Default: ``False``.

    Shape:
        - Input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.Dropout3d(0.2)(svertka.randn(2, 4, 3, 5, 5)).shape
        svertka.Size([2, 4, 3, 5, 5])
    """

    _fn = "dropout3d"


class AlphaDropout(_DropoutNd):
    """Dropout that keeps the zero mean and unit variance of SELU activations, as
    ``torch.nn.AlphaDropout``: dropped elements take SELU's negative saturation value and the
    result is scaled and shifted back; the identity in eval mode.

    Args:
        p (float): the probability of dropping an element. Default: 0.5.
        inplace (bool): modify the input in place. Default: ``False``.

    Shape:
        - Input: ``(*)``, any shape.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.AlphaDropout(0.2)(svertka.randn(8, 16)).shape
        svertka.Size([8, 16])
    """

    _fn = "alpha_dropout"
