"""Normalisation layers: BatchNorm, InstanceNorm, GroupNorm, LayerNorm, LocalResponseNorm."""

from __future__ import annotations

from svertka import _dtype
from svertka import _validate as V
from svertka._creation import empty, ones, tensor, zeros
from svertka.autograd import grad_mode
from svertka.nn import functional as F
from svertka.nn import init
from svertka.nn.modules.module import Module
from svertka.nn.parameter import Parameter


def _dt(dtype):
    return _dtype.to_dtype(dtype) if dtype is not None else None


class _NormBase(Module):
    """What BatchNorm and InstanceNorm share: affine parameters and running statistics."""

    _ranks = (4,)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        name = type(self).__name__
        num_features = V.check_int(num_features, "num_features", name, minimum=1,
                                   what="a positive int")
        V.check_numel((num_features,), name, "num_features")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(empty(num_features, dtype=_dt(dtype)))
            if bias:
                self.bias = Parameter(empty(num_features, dtype=_dt(dtype)))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=_dt(dtype)))
            self.register_buffer("running_var", ones(num_features, dtype=_dt(dtype)))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=_dtype.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        """Reset the running mean to 0, the running variance to 1 and the batch count to 0."""
        if self.track_running_stats:
            with grad_mode.no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        """Reset the running statistics, the weight to 1 and the bias to 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input):
        V.check_tensor(input, "input", type(self).__name__)
        if input.ndim not in self._ranks:
            want = " or ".join(f"{r}D" for r in self._ranks)
            raise V.error(type(self).__name__, f"expected {want} input (got {input.ndim}D "
                                               f"input of shape {tuple(input.shape)})")

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with grad_mode.no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or (self.running_mean is None
                                            and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over ``(N, C)`` or ``(N, C, L)``, as ``torch.nn.BatchNorm1d``;
    see ``BatchNorm2d``.

    Args:
        num_features (int): the number of channels ``C``.
        eps (float): added to the variance for stability. Default: 1e-5.
        momentum (float or None): the weight of the new statistic in the running average;
            ``None`` takes the cumulative average. Default: 0.1.
        affine (bool): learn a per-channel weight and bias. Default: ``True``.
        track_running_stats (bool): keep running statistics for eval mode. Default: ``True``.

    Shape:
        - Input: ``(N, C)`` or ``(N, C, L)``.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.BatchNorm1d(4)(svertka.randn(8, 4, 10)).shape
        svertka.Size([8, 4, 10])
    """

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over ``(N, C, H, W)``, as ``torch.nn.BatchNorm2d``: per channel,
    ``(x - mean) / sqrt(var + eps) * weight + bias``, with the batch's mean and (biased) variance
    in training and the running statistics in eval mode; the running statistics are updated with
    ``momentum`` and the unbiased variance.

    Args:
        num_features (int): the number of channels ``C``.
        eps (float): added to the variance for stability. Default: 1e-5.
        momentum (float or None): the weight of the new statistic in the running average;
            ``None`` takes the cumulative average. Default: 0.1.
        affine (bool): learn a per-channel weight and bias. Default: ``True``.
        track_running_stats (bool): keep running statistics for eval mode. Default: ``True``.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H, W)`` (same shape as input).

    Examples::

        >>> import svertka
        >>> bn = svertka.nn.BatchNorm2d(16)
        >>> [k for k in bn.state_dict()]
        ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
        >>> bn(svertka.randn(4, 16, 8, 8)).shape
        svertka.Size([4, 16, 8, 8])
    """

    _ranks = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over ``(N, C, D, H, W)``, as ``torch.nn.BatchNorm3d``; see
    ``BatchNorm2d``.

    Args:
        num_features (int): the number of channels ``C``.
        eps (float): added to the variance for stability. Default: 1e-5.
        momentum (float or None): the weight of the new statistic in the running average;
            ``None`` takes the cumulative average. Default: 0.1.
        affine (bool): learn a per-channel weight and bias. Default: ``True``.
        track_running_stats (bool): keep running statistics for eval mode. Default: ``True``.

    Shape:
        - Input: ``(N, C, D, H, W)``.
        - Output: ``(N, C, D, H, W)`` (same shape as input).

    Examples::

        >>> import svertka
        >>> svertka.nn.BatchNorm3d(4)(svertka.randn(2, 4, 3, 5, 5)).shape
        svertka.Size([2, 4, 3, 5, 5])
    """

    _ranks = (5,)


class _InstanceNorm(_NormBase):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def forward(self, input):
        self._check_input_dim(input)
        unbatched = input.ndim == self._ranks[0]  # (C, *spatial): add the batch dim, as torch
        if unbatched:
            input = input.unsqueeze(0)
        out = F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                              self.bias, self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Normalise each channel of each sample over its positions, as
    ``torch.nn.InstanceNorm1d``.

    Args:
        num_features (int): the number of channels ``C``.
        eps (float): added to the variance for stability. Default: 1e-5.
        momentum (float or None): the weight of the new statistic in the running average;
            ``None`` takes the cumulative average. Default: 0.1.
        affine (bool): learn a per-channel weight and bias. Default: ``False``.
        track_running_stats (bool): keep running statistics for eval mode. Default: ``False``.

    Shape:
        - Input: ``(N, C, L)`` or ``(C, L)``.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.InstanceNorm1d(4)(svertka.randn(2, 4, 10)).shape
        svertka.Size([2, 4, 10])
    """

    _ranks = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Normalise each channel of each sample over its spatial positions, as
    ``torch.nn.InstanceNorm2d``.

    Args:
        num_features (int): the number of channels ``C``.
        eps (float): added to the variance for stability. Default: 1e-5.
        momentum (float or None): the weight of the new statistic in the running average.
            Default: 0.1.
        affine (bool): learn a per-channel weight and bias. Default: ``False``.
        track_running_stats (bool): keep running statistics for eval mode. Default: ``False``.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.InstanceNorm2d(3)(svertka.randn(2, 3, 8, 8)).shape
        svertka.Size([2, 3, 8, 8])
    """

    _ranks = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Normalise each channel of each sample over its positions, as
    ``torch.nn.InstanceNorm3d``.

    Args:
        num_features (int): the number of channels ``C``.
        eps (float): added to the variance for stability. Default: 1e-5.
        momentum (float or None): the weight of the new statistic in the running average;
            ``None`` takes the cumulative average. Default: 0.1.
        affine (bool): learn a per-channel weight and bias. Default: ``False``.
        track_running_stats (bool): keep running statistics for eval mode. Default: ``False``.

    Shape:
        - Input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.InstanceNorm3d(4)(svertka.randn(2, 4, 3, 5, 5)).shape
        svertka.Size([2, 4, 3, 5, 5])
    """

    _ranks = (4, 5)


class GroupNorm(Module):
    """Normalise each sample over groups of ``num_channels // num_groups`` channels, as
    ``torch.nn.GroupNorm``; then a per-channel affine transform.

    Args:
        num_groups (int): the number of groups; it divides ``num_channels``.
        num_channels (int): the number of channels ``C``.
        eps (float): added to the variance for stability. Default: 1e-5.
        affine (bool): learn a per-channel weight and bias. Default: ``True``.

    Shape:
        - Input: ``(N, C, *)``.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.GroupNorm(2, 6)(svertka.randn(4, 6, 5, 5)).shape
        svertka.Size([4, 6, 5, 5])
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        num_groups = V.check_int(num_groups, "num_groups", "GroupNorm", minimum=1,
                                 what="a positive int")
        num_channels = V.check_int(num_channels, "num_channels", "GroupNorm", minimum=1,
                                   what="a positive int")
        V.check_numel((num_channels,), "GroupNorm", "num_channels")
        if num_channels % num_groups:
            raise V.error("GroupNorm", f"num_channels must be divisible by num_groups, got "
                                       f"num_channels={num_channels}, num_groups={num_groups}")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        if affine:
            self.weight = Parameter(ones(num_channels, dtype=_dt(dtype)))
            if bias:
                self.bias = Parameter(zeros(num_channels, dtype=_dt(dtype)))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LayerNorm(Module):
    """Normalise each sample over its trailing ``normalized_shape`` dimensions, as
    ``torch.nn.LayerNorm``; then an elementwise affine transform.

    Args:
        normalized_shape (int or tuple): the trailing shape to normalise over.
        eps (float): added to the variance for stability. Default: 1e-5.
        elementwise_affine (bool): learn a weight (and a bias) of ``normalized_shape``.
            Default: ``True``.
        bias (bool): learn the bias too. Default: ``True``.

    Shape:
        - Input: ``(N, *)``, ending in ``normalized_shape``.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> ln = svertka.nn.LayerNorm(3, elementwise_affine=False)
        >>> ln(svertka.tensor([[1., 2., 3.]]))
        tensor([[-1.2247,  0.0000,  1.2247]])
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = V.check_shape(normalized_shape, "normalized_shape",
                                              "LayerNorm")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, dtype=_dt(dtype)))
            if bias:
                self.bias = Parameter(zeros(*self.normalized_shape, dtype=_dt(dtype)))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """AlexNet's normalisation across ``size`` neighbouring channels, as
    ``torch.nn.LocalResponseNorm``: ``x / (k + alpha / size * sum of x**2 over the window) **
    beta``.

    Args:
        size (int): the number of neighbouring channels in the window.
        alpha (float): the scale of the sum. Default: 1e-4.
        beta (float): the exponent. Default: 0.75.
        k (float): the additive constant. Default: 1.

    Shape:
        - Input: ``(N, C, *)``.
        - Output: the input's shape.

    Examples::

        >>> import svertka
        >>> svertka.nn.LocalResponseNorm(2)(svertka.randn(2, 8, 5, 5)).shape
        svertka.Size([2, 8, 5, 5])
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        fn = "LocalResponseNorm"
        self.size = V.check_int(size, "size", fn, minimum=1, what="a positive int")
        self.alpha, self.beta, self.k = (V.check_real(v, name, fn) for name, v in
                                         (("alpha", alpha), ("beta", beta), ("k", k)))

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
