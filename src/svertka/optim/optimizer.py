"""`Optimizer`: the base of every optimizer (parameter groups, state, state_dict, zero_grad).

An optimizer holds ``param_groups`` (a list of dicts: ``'params'``, a list of tensors, and the
group's hyperparameters, defaults filled in) and ``state`` (a dict keyed by the parameter
tensor, holding per-parameter buffers as svertka Tensors). ``step`` updates every parameter that
has a gradient, in place, under ``svertka.no_grad()``: the parameter's ndarray is modified, never
rebound, so modules (and anything else holding the parameter) see the new values.

Subclasses implement ``_update(p, grad, group)`` (``grad`` is the gradient's ndarray) with torch's
single-tensor arithmetic, in torch's order, so results agree with torch to rounding.
"""

from __future__ import annotations

import copy
import numbers
import warnings
from collections import defaultdict
from itertools import chain

import numpy as np

from svertka import _dtype
from svertka._validate import error, type_error
from svertka.autograd import grad_mode
from svertka.nn.modules.lazy import UninitializedParameter
from svertka.tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Singleton marking a hyperparameter without default (a group must give it)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _check_nonneg(fn, value, what):
    """torch's ``if not 0.0 <= value: raise ValueError(f"Invalid {what}: {value}")``."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise type_error(fn, f"{what} must be a real number, got {value!r}")
    if not 0.0 <= value:
        raise error(fn, f"invalid {what}: {value}")


def _state_array(value, like=None):
    """A fresh ndarray for an optimizer buffer: zeros shaped like ``like`` or a 0-d step."""
    if like is None:
        return Tensor._make(np.array(float(value), dtype=_dtype.get_default_dtype().np))
    return Tensor._make(np.full_like(like, value))


class Optimizer:
    """Base class of all optimizers.

    Args:
        params (iterable): an iterable of Tensors, or of dicts (parameter groups) each with a
            ``'params'`` entry and optional per-group hyperparameters.
        defaults (dict): the default hyperparameters, used where a group gives none.

    Examples::

        >>> import svertka
        >>> w = svertka.zeros(3, requires_grad=True)
        >>> b = svertka.zeros(1, requires_grad=True)
        >>> opt = svertka.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.5]
        >>> opt.state_dict()["param_groups"][1]["params"]
        [1]
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise type_error(name, "params argument given to the optimizer should be an "
                                   "iterable of Tensors or dicts, but got Tensor")
        self.state = defaultdict(dict)
        self.param_groups = []
        try:
            groups = list(params)
        except TypeError:
            raise type_error(name, f"params argument given to the optimizer should be an "
                                   f"iterable of Tensors or dicts, but got "
                                   f"{type(params).__name__}") from None
        if len(groups) == 0:
            raise error(name, "optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Add a parameter group (a dict with ``'params'`` and optional hyperparameters).

        Useful when fine-tuning: layers unfrozen later get their own group. Hyperparameters the
        group leaves out take the optimizer's defaults.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise type_error(f"{name}.add_param_group",
                             f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise error(f"{name}.add_param_group", "param_group must have a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise type_error(f"{name}.add_param_group",
                             "optimizer parameters need to be organized in ordered "
                             "collections, but the ordering of tensors in sets will change "
                             "between runs. Please use a list instead.")
        else:
            params = list(params)
        param_group = dict(param_group)
        param_group["params"] = params
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise type_error(name, f"optimizer can only optimize Tensors, but one of the "
                                       f"params is {type(p).__name__}")
            if not (p.is_leaf or p.retains_grad):
                raise error(name, "can't optimize a non-leaf Tensor")
            if isinstance(p, UninitializedParameter):
                # departure from torch, which accepts it and fails later, or not at all
                raise error(name, f"optimizer got an uninitialized parameter (index {i} of the "
                                  f"group), of a Lazy module not called yet: run one forward "
                                  f"pass (a dry run) before building the optimizer")
        for key, default in self.defaults.items():
            if default is required and key not in param_group:
                raise error(name, f"parameter group didn't specify a value of required "
                                  f"optimization parameter {key}")
            param_group.setdefault(key, default)
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", stacklevel=3)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params):
            raise error(name, "some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ gradients, step
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters.

        Args:
            set_to_none (bool): set ``.grad`` to ``None`` (default) instead of filling it with
                zeros; ``step`` then skips those parameters.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad._data.flags.writeable:
                    p.grad.detach_()
                    p.grad._data[...] = 0
                    p.grad._version[0] += 1
                else:
                    p.grad = Tensor._make(np.zeros_like(p.grad._data))

    def step(self, closure=None):
        """Perform one optimization step (update every parameter that has a gradient).

        Args:
            closure (callable, optional): re-evaluates the model and returns the loss; it runs
                with gradient recording on.

        Returns:
            the closure's loss, or ``None``.
        """
        loss = None
        if closure is not None:
            with grad_mode.enable_grad():
                loss = closure()
        with grad_mode.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    self._update(p, p.grad._data, group)
                    p._version[0] += 1
        return loss

    def _update(self, p, grad, group):
        """Update ``p._data`` in place from ``grad`` (an ndarray) with ``group``'s settings."""
        raise NotImplementedError

    # ------------------------------------------------------------------ state dict
    def state_dict(self):
        """The optimizer's state: ``{'state': {index: {name: value}}, 'param_groups': [...]}``.

        Parameters are replaced by their index in the order of ``param_groups``; state values
        are the optimizer's Tensors (not copies, as in torch) and numbers.
        """
        mapping = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v
                 for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a state from :meth:`state_dict` (the groups must match in number and sizes).

        Floating-point state is copied and cast to its parameter's dtype (the ``'step'`` count
        keeps its own); NumPy arrays are accepted in place of Tensors.
        """
        fn = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise type_error(fn, f"state_dict must be a dict, got {type(state_dict).__name__}")
        missing = [k for k in ("state", "param_groups") if k not in state_dict]
        if missing:
            raise error(fn, f"state_dict is missing the key(s) {missing} (expected 'state' "
                            f"and 'param_groups')")
        groups = self.param_groups
        saved_groups = copy.deepcopy(list(state_dict["param_groups"]))
        if len(groups) != len(saved_groups):
            raise error(fn, f"loaded state dict has {len(saved_groups)} parameter group(s), "
                            f"the optimizer has {len(groups)}")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise error(fn, f"parameter group {i} of the loaded state dict has "
                                f"{len(s['params'])} parameter(s), the optimizer's group has "
                                f"{len(g['params'])}")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = {key: _cast(fn, k, param, key, value)
                                for key, value in v.items()}
            else:
                state[k] = copy.deepcopy(v)
        new_groups = []
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            new_groups.append(s)
        self.__setstate__({"state": state, "param_groups": new_groups})


def _cast(fn, index, param, key, value):
    """Copy one state value for ``param``: arrays/Tensors become fresh Tensors of its dtype."""
    if isinstance(value, Tensor):
        value = value._data
    if isinstance(value, np.ndarray):
        array = np.array(value, copy=True)
        if key != "step" and array.dtype.kind == "f" and param._data.dtype.kind == "f":
            array = array.astype(param._data.dtype, copy=False)
        if array.ndim > 0 and key != "step" and array.shape != param._data.shape:
            raise error(fn, f"state {key!r} of parameter {index} has shape {array.shape}, the "
                            f"parameter has shape {param._data.shape}")
        return Tensor._make(array)
    if isinstance(value, dict):
        return {k: _cast(fn, index, param, k, v) for k, v in value.items()}
    return copy.deepcopy(value)


def _lerp_(a, b, weight):
    """``a.lerp_(b, weight)`` as torch computes it (the form depends on ``|weight| < 0.5``)."""
    diff = b - a
    if abs(weight) < 0.5:
        diff *= weight
        a += diff
    else:
        diff *= 1 - weight
        np.subtract(b, diff, out=a)


def _increment_step(state):
    """Add one to ``state['step']`` (a 0-d Tensor, as torch keeps it) and return it as float."""
    step = state["step"]
    if not isinstance(step, Tensor):
        step = state["step"] = _state_array(float(step))
    step._data += 1
    return float(step._data)
