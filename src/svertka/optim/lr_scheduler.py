"""Learning-rate schedulers, as ``torch.optim.lr_scheduler``.

A scheduler changes ``group['lr']`` of its optimizer's parameter groups each time ``step()`` is
called (after ``optimizer.step()``). Construction records ``group['initial_lr']`` and performs
the first step (``last_epoch`` becomes 0). The chainable schedulers compute the next rate from
the current one in torch's (recursive) form, so the sequences equal torch's to the last bit.

Examples::

    >>> import svertka
    >>> from svertka.optim.lr_scheduler import StepLR
    >>> w = svertka.zeros(2, requires_grad=True)
    >>> opt = svertka.optim.SGD([w], lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [1.0, 0.5, 0.5, 0.25, 0.25]
"""

from __future__ import annotations

import math
import numbers
import types
import warnings
from bisect import bisect_right
from collections import Counter

from svertka._validate import error, type_error
from svertka.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "LinearLR", "ExponentialLR",
           "CosineAnnealingLR", "OneCycleLR", "ReduceLROnPlateau"]

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where "
    "possible. Please use `scheduler.step()` to step the scheduler. During the deprecation, if "
    "epoch is different from None, the closed form is used instead of the new chainable form, "
    "where available.")


def _check_optimizer(fn, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise type_error(fn, f"{type(optimizer).__name__} is not an Optimizer")


def _format_param(fn, name, optimizer, param):
    """One value per parameter group (a list/tuple must have one per group)."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise error(fn, f"{name} must have the same length as optimizer.param_groups: "
                            f"{name} has {len(param)} values, param_groups has "
                            f"{len(optimizer.param_groups)}")
        return list(param)
    return [param] * len(optimizer.param_groups)


def _group_lrs(optimizer):
    return [group["lr"] for group in optimizer.param_groups]


class LRScheduler:
    """Base class of the learning-rate schedulers.

    Subclasses implement ``get_lr()``: the next learning rate of each parameter group, computed
    after ``last_epoch`` was incremented.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates are scheduled.
        last_epoch (int): index of the last epoch; ``-1`` (default) starts a schedule, other
            values resume one (the groups must then hold ``'initial_lr'``).

    Attributes:
        base_lrs: the groups' ``'initial_lr'``.
        last_epoch: the number of ``step()`` calls since the start (0 after construction).
    """

    _is_initial = False

    def __init__(self, optimizer, last_epoch=-1):
        fn = type(self).__name__
        _check_optimizer(fn, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise error(fn, f"param 'initial_lr' is not specified in param_groups[{i}] "
                                    f"when resuming a scheduler with last_epoch >= 0 (load the "
                                    f"optimizer's state first), got last_epoch={last_epoch}")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def state_dict(self):
        """Every attribute of the scheduler except the optimizer, as torch."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore the attributes saved by :meth:`state_dict`."""
        self.__dict__.update(state_dict)

    def get_last_lr(self):
        """The learning rates of the parameter groups after the last ``step()``."""
        return self._last_lr

    def get_lr(self):
        """The learning rate of each parameter group for the current ``last_epoch``; every
        scheduler overrides it. Call :meth:`step` and read :meth:`get_last_lr` instead.
        """
        raise NotImplementedError

    def step(self, epoch=None):
        """Advance the schedule by one epoch (or, deprecated, jump to ``epoch``)."""
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
            self.last_epoch = epoch
            if hasattr(self, "_get_closed_form_lr"):
                values = self._get_closed_form_lr()
            else:
                values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = _group_lrs(self.optimizer)


class LambdaLR(LRScheduler):
    """Learning rate = initial lr times ``lr_lambda(epoch)``.

    Args:
        optimizer (Optimizer): the optimizer.
        lr_lambda (callable or list): a function of the epoch, or one per parameter group.
        last_epoch (int): index of the last epoch. Default: ``-1``.

    Examples::

        >>> import svertka
        >>> opt = svertka.optim.SGD([svertka.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = svertka.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5 ** epoch)
        >>> sched.step()
        >>> sched.get_last_lr()
        [0.5]
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer("LambdaLR", optimizer)
        self.optimizer = optimizer
        if not isinstance(lr_lambda, (list, tuple)):
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        else:
            if len(lr_lambda) != len(optimizer.param_groups):
                raise error("LambdaLR", f"expected {len(optimizer.param_groups)} lr_lambdas (one "
                                        f"per parameter group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        for f in self.lr_lambdas:
            if not callable(f):
                raise type_error("LambdaLR", f"lr_lambda must be callable, got "
                                             f"{type(f).__name__}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self):
        """As the base, with each lambda replaced by ``None`` (or a callable object's
        ``__dict__``): functions are not saved."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        lr_lambdas = state_dict.pop("lr_lambdas")
        self.__dict__.update(state_dict)
        for idx, fn in enumerate(lr_lambdas):
            if fn is not None:
                self.lr_lambdas[idx].__dict__.update(fn)

    def get_lr(self):
        return [base_lr * lmbda(self.last_epoch)
                for lmbda, base_lr in zip(self.lr_lambdas, self.base_lrs)]


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Args:
        optimizer (Optimizer): the optimizer.
        step_size (int): period of the decay, in epochs.
        gamma (float): multiplicative factor. Default: ``0.1``.
        last_epoch (int): index of the last epoch. Default: ``-1``.
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if not isinstance(step_size, numbers.Integral) or step_size <= 0:
            raise error("StepLR", f"step_size must be a positive int, got step_size={step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _group_lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each milestone epoch.

    Args:
        optimizer (Optimizer): the optimizer.
        milestones (list of int): epoch indices (a repeated milestone multiplies repeatedly).
        gamma (float): multiplicative factor. Default: ``0.1``.
        last_epoch (int): index of the last epoch. Default: ``-1``.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return _group_lrs(self.optimizer)
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch]
                for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        milestones = sorted(Counter(self.milestones).elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the learning rate linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs, then keep it.

    Args:
        optimizer (Optimizer): the optimizer.
        start_factor (float): factor of the first epoch, in (0, 1]. Default: ``1/3``.
        end_factor (float): factor at ``total_iters``, in [0, 1]. Default: ``1.0``.
        total_iters (int): number of epochs of the ramp. Default: ``5``.
        last_epoch (int): index of the last epoch. Default: ``-1``.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        if start_factor > 1.0 or start_factor <= 0:
            raise error("LinearLR", f"starting multiplicative factor expected to be greater "
                                    f"than 0 and less or equal to 1, got "
                                    f"start_factor={start_factor}")
        if end_factor > 1.0 or end_factor < 0:
            raise error("LinearLR", f"ending multiplicative factor expected to be between 0 "
                                    f"and 1, got end_factor={end_factor}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _group_lrs(self.optimizer)
        delta = self.end_factor - self.start_factor
        return [group["lr"] * (1.0 + delta / (self.total_iters * self.start_factor
                                              + (self.last_epoch - 1) * delta))
                for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * (self.start_factor + (self.end_factor - self.start_factor)
                           * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    Args:
        optimizer (Optimizer): the optimizer.
        gamma (float): multiplicative factor.
        last_epoch (int): index of the last epoch. Default: ``-1``.
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return _group_lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from the initial lr to ``eta_min`` over ``T_max`` epochs (torch's
    recursive form, which keeps following the cosine past ``T_max``).

    .. math::
        \eta_t = \eta_{min} + (\eta_{t-1} - \eta_{min})
        \frac{1 + \cos(\pi t / T_{max})}{1 + \cos(\pi (t - 1) / T_{max})}

    Args:
        optimizer (Optimizer): the optimizer.
        T_max (int): half period, in epochs.
        eta_min (float): minimum learning rate. Default: ``0``.
        last_epoch (int): index of the last epoch. Default: ``-1``.

    Examples::

        >>> import svertka
        >>> opt = svertka.optim.SGD([svertka.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = svertka.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
        >>> for _ in range(2):
        ...     sched.step()
        ...     print(round(sched.get_last_lr()[0], 6))
        0.5
        0.0
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if not isinstance(T_max, numbers.Real) or T_max <= 0:
            raise error("CosineAnnealingLR", f"T_max must be positive, got T_max={T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return _group_lrs(self.optimizer)
        if self._step_count == 1 and self.last_epoch > 0:
            return [self.eta_min + (base_lr - self.eta_min)
                    * (1 + math.cos(self.last_epoch * math.pi / self.T_max)) / 2
                    for base_lr in self.base_lrs]
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [group["lr"] + (base_lr - self.eta_min)
                    * (1 - math.cos(math.pi / self.T_max)) / 2
                    for base_lr, group in zip(self.base_lrs, self.optimizer.param_groups)]
        return [(1 + math.cos(math.pi * self.last_epoch / self.T_max))
                / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
                * (group["lr"] - self.eta_min) + self.eta_min
                for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base_lr - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy: the learning rate rises from ``max_lr / div_factor`` to ``max_lr``,
    then anneals to ``initial_lr / final_div_factor``; momentum (SGD's ``momentum`` or Adam's
    ``betas[0]``) cycles the other way. Step it after every batch.

    Args:
        optimizer (Optimizer): the optimizer.
        max_lr (float or list): peak learning rate(s).
        total_steps (int, optional): number of steps of the cycle; else
            ``epochs * steps_per_epoch``.
        epochs (int, optional): number of epochs. steps_per_epoch (int, optional): steps per
            epoch.
        pct_start (float): fraction of the cycle spent increasing the lr. Default: ``0.3``.
        anneal_strategy (str): ``'cos'`` or ``'linear'``. Default: ``'cos'``.
        cycle_momentum (bool): cycle the momentum inversely to the lr. Default: ``True``.
        base_momentum (float or list): lowest momentum. Default: ``0.85``.
        max_momentum (float or list): highest momentum. Default: ``0.95``.
        div_factor (float): ``initial_lr = max_lr / div_factor``. Default: ``25``.
        final_div_factor (float): ``min_lr = initial_lr / final_div_factor``. Default: ``1e4``.
        three_phase (bool): a third phase anneals from ``initial_lr`` to ``min_lr`` (the second
            returns to ``initial_lr``). Default: ``False``.
        last_epoch (int): index of the last batch. Default: ``-1``.

    Examples::

        >>> import svertka
        >>> opt = svertka.optim.SGD([svertka.zeros(1, requires_grad=True)], lr=0.1,
        ...                         momentum=0.9)
        >>> sched = svertka.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
        >>> round(sched.get_last_lr()[0], 6), opt.param_groups[0]["momentum"]
        (0.04, 0.95)
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        fn = "OneCycleLR"
        _check_optimizer(fn, optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, numbers.Integral) or total_steps <= 0:
                raise error(fn, f"expected positive integer total_steps, got "
                                f"total_steps={total_steps!r}")
            self.total_steps = int(total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, numbers.Integral) or epochs <= 0:
                raise error(fn, f"expected positive integer epochs, got epochs={epochs!r}")
            if not isinstance(steps_per_epoch, numbers.Integral) or steps_per_epoch <= 0:
                raise error(fn, f"expected positive integer steps_per_epoch, got "
                                f"steps_per_epoch={steps_per_epoch!r}")
            self.total_steps = int(epochs) * int(steps_per_epoch)
        else:
            raise error(fn, "you must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or pct_start < 0 or pct_start > 1:
            raise error(fn, f"expected float between 0 and 1 pct_start, got "
                            f"pct_start={pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise error(fn, f"anneal_strategy must be one of 'cos' or 'linear', got "
                            f"anneal_strategy={anneal_strategy!r}")
        self._anneal_func_type = anneal_strategy
        if three_phase:
            self._schedule_phases = [
                {"end_step": float(pct_start * self.total_steps) - 1, "start_lr": "initial_lr",
                 "end_lr": "max_lr", "start_momentum": "max_momentum",
                 "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * self.total_steps) - 2, "start_lr": "max_lr",
                 "end_lr": "initial_lr", "start_momentum": "base_momentum",
                 "end_momentum": "max_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "initial_lr",
                 "end_lr": "min_lr", "start_momentum": "max_momentum",
                 "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": float(pct_start * self.total_steps) - 1, "start_lr": "initial_lr",
                 "end_lr": "max_lr", "start_momentum": "max_momentum",
                 "end_momentum": "base_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]
        max_lrs = _format_param(fn, "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for idx, group in enumerate(optimizer.param_groups):
                group["initial_lr"] = max_lrs[idx] / div_factor
                group["max_lr"] = max_lrs[idx]
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise error(fn, "optimizer must support momentum or beta1 with "
                                "`cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _format_param(fn, "max_momentum", optimizer, max_momentum)
            base_momentums = _format_param(fn, "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for m_momentum, b_momentum, group in zip(max_momentums, base_momentums,
                                                         optimizer.param_groups):
                    if self.use_beta1:
                        group["betas"] = (m_momentum, *group["betas"][1:])
                    else:
                        group["momentum"] = m_momentum
                    group["max_momentum"] = m_momentum
                    group["base_momentum"] = b_momentum
        super().__init__(optimizer, last_epoch)

    def _anneal_func(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise error("OneCycleLR", f"tried to step {step_num} times; the specified number "
                                      f"of total steps is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    computed_lr = self._anneal_func(group[phase["start_lr"]],
                                                    group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        computed_momentum = self._anneal_func(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(computed_lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (computed_momentum, *group["betas"][1:])
                else:
                    group["momentum"] = computed_momentum
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Reduce the learning rate when a metric has stopped improving.

    ``step(metric)`` counts the epochs without improvement (better than the best by more than
    ``threshold``); after ``patience`` of them every group's lr is multiplied by ``factor``
    (not below ``min_lr``; changes smaller than ``eps`` are skipped), then ``cooldown`` epochs
    pass before counting again.

    Args:
        optimizer (Optimizer): the optimizer.
        mode (str): ``'min'`` (the metric should decrease) or ``'max'``. Default: ``'min'``.
        factor (float): multiplicative factor, < 1. Default: ``0.1``.
        patience (int): epochs without improvement tolerated. Default: ``10``.
        threshold (float): minimal significant change. Default: ``1e-4``.
        threshold_mode (str): ``'rel'`` (best * (1 -/+ threshold)) or ``'abs'``
            (best -/+ threshold). Default: ``'rel'``.
        cooldown (int): epochs to wait after a reduction. Default: ``0``.
        min_lr (float or list): lower bound of the lr, per group. Default: ``0``.
        eps (float): minimal change of the lr applied. Default: ``1e-8``.

    Examples::

        >>> import svertka
        >>> opt = svertka.optim.SGD([svertka.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = svertka.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
        >>> for loss in [3.0, 2.0, 2.0, 2.0]:
        ...     sched.step(loss)
        >>> sched.get_last_lr()
        [0.5]
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        fn = "ReduceLROnPlateau"
        if factor >= 1.0:
            raise error(fn, f"factor should be < 1.0, got factor={factor}")
        self.factor = factor
        _check_optimizer(fn, optimizer)
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise error(fn, f"expected {len(optimizer.param_groups)} min_lrs (one per "
                                f"parameter group), got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _group_lrs(optimizer)
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics, epoch=None):
        """Record one epoch's metric (a number or a one-element Tensor)."""
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _group_lrs(self.optimizer)

    def _reduce_lr(self):
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise error("ReduceLROnPlateau",
                            f"the number of param groups in the optimizer "
                            f"({len(self.optimizer.param_groups)}) differs from when "
                            f"ReduceLROnPlateau was initialized ({len(self.min_lrs)}); set "
                            f"`min_lrs` to one value per group")
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for i, group in enumerate(self.optimizer.param_groups):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[i])
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode, threshold, threshold_mode):
        if mode not in ("min", "max"):
            raise error("ReduceLROnPlateau", f"mode must be one of 'min', 'max', got mode={mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise error("ReduceLROnPlateau", f"threshold_mode must be one of 'rel', 'abs', got "
                                             f"threshold_mode={threshold_mode!r}")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._init_is_better(mode=self.mode, threshold=self.threshold,
                             threshold_mode=self.threshold_mode)
