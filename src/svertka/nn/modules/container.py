"""Containers: `Sequential`, `ModuleList`, `ModuleDict`, `ParameterList`, `ParameterDict`."""

from __future__ import annotations

import operator
from collections import OrderedDict

from svertka._validate import is_int
from svertka.autograd import grad_mode
from svertka.nn.modules._inference import sequential_forward
from svertka.nn.modules.module import Module
from svertka.nn.parameter import Parameter


def _index(idx, n, owner):
    if not is_int(idx):
        raise TypeError(f"{owner}: indices must be integers or slices, got {type(idx).__name__}")
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"{owner}: index {idx} is out of range for {n} modules")
    return idx % n


class Sequential(Module):
    """Modules called one after the other, as ``torch.nn.Sequential``.

    Built from modules (named ``"0"``, ``"1"``, ...) or from one ``OrderedDict`` of names to
    modules. Supports indexing, slicing (a new Sequential sharing the modules), ``len``,
    iteration, ``append``, ``insert``, ``extend`` and ``del``.

    Examples::

        >>> from svertka import nn
        >>> net = nn.Sequential(nn.Identity(), nn.Identity())
        >>> len(net), type(net[0]).__name__, len(net[:1])
        (2, 'Identity', 1)
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input):
        if not grad_mode.is_grad_enabled():
            # inference: batch norm and ReLU after a conv work in place (same values)
            return sequential_forward(self._modules.values(), input)
        for module in self._modules.values():
            input = module(input)
        return input

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self), "Sequential")]

    def __setitem__(self, idx, module):
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        if isinstance(idx, slice):
            for key in keys[idx]:
                del self._modules[key]
        else:
            del self._modules[keys[_index(idx, len(self), "Sequential")]]
        # torch renumbers nothing here either; keys stay as they were

    def append(self, module):
        """Add ``module`` at the end; return self."""
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index``; return self."""
        modules = list(self._modules.values())
        n = len(modules)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {n} modules")
        modules.insert(index % (n + 1) if index < 0 else index, module)
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)
        return self

    def extend(self, modules):
        """Add each module of ``modules`` at the end; return self."""
        for m in modules:
            self.append(m)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered, as ``torch.nn.ModuleList``; it
    supports indexing, slicing, ``len``, iteration, ``append``, ``extend`` and ``insert``.

    Args:
        modules (iterable of Module, optional): the initial modules.

    Examples::

        >>> from svertka import nn
        >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
        >>> len(layers), len(list(layers.parameters()))
        (3, 6)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx, module):
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx):
        modules = list(self._modules.values())
        del modules[idx if isinstance(idx, slice) else _index(idx, len(self), "ModuleList")]
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __iadd__(self, modules):
        return self.extend(modules)

    def append(self, module):
        """Add ``module`` at the end; return self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        """Add each module of ``modules`` at the end; return self."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index``."""
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: iterate over it in your own "
                                  "module's forward")


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, as ``torch.nn.ModuleDict``; it
    keeps insertion order.

    Args:
        modules (mapping or iterable of (str, Module) pairs, optional): the initial modules.

    Examples::

        >>> from svertka import nn
        >>> heads = nn.ModuleDict({"cls": nn.Linear(2, 3)})
        >>> [name for name, _ in heads.named_parameters()]
        ['cls.weight', 'cls.bias']
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        """The names of the modules, in insertion order."""
        return self._modules.keys()

    def values(self):
        """The modules, in insertion order."""
        return self._modules.values()

    def items(self):
        """The ``(name, module)`` pairs, in insertion order."""
        return self._modules.items()

    def pop(self, key):
        """Remove the module ``key`` and return it."""
        return self._modules.pop(key)

    def clear(self):
        """Remove every module."""
        self._modules.clear()

    def update(self, modules):
        """Add the modules of a mapping or of an iterable of ``(name, module)`` pairs."""
        items = modules.items() if hasattr(modules, "items") else modules
        for key, module in items:
            self.add_module(key, module)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward: index it in your own module's "
                                  "forward")


class ParameterList(Module):
    """A list of parameters registered under the names ``"0"``, ``"1"``, ..., as
    ``torch.nn.ParameterList``; a plain tensor becomes a Parameter.

    Args:
        values (iterable of Tensor, optional): the initial parameters.

    Examples::

        >>> import svertka
        >>> from svertka import nn
        >>> ps = nn.ParameterList([nn.Parameter(svertka.zeros(2)) for _ in range(2)])
        >>> [name for name, _ in ps.named_parameters()]
        ['0', '1']
    """

    def __init__(self, values=None):
        super().__init__()
        for v in values or ():
            self.append(v)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __getitem__(self, idx):
        return self._parameters[str(_index(idx, len(self), "ParameterList"))]

    def append(self, value):
        """Add ``value`` (a tensor becomes a Parameter) at the end; return self."""
        if not isinstance(value, Parameter):
            value = Parameter(value)
        self.register_parameter(str(len(self)), value)
        return self

    def extend(self, values):
        """Add each of ``values`` at the end; return self."""
        for v in values:
            self.append(v)
        return self


class ParameterDict(Module):
    """A dict of parameters registered under their keys, as ``torch.nn.ParameterDict``.

    Args:
        parameters (mapping or iterable of (str, Tensor) pairs, optional): the initial parameters.

    Examples::

        >>> import svertka
        >>> from svertka import nn
        >>> ps = nn.ParameterDict({"scale": nn.Parameter(svertka.ones(3))})
        >>> [name for name, _ in ps.named_parameters()]
        ['scale']
    """

    def __init__(self, parameters=None):
        super().__init__()
        for k, v in (parameters or {}).items():
            self[k] = v

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, value):
        if not isinstance(value, Parameter):
            value = Parameter(value)
        self.register_parameter(key, value)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        """The names of the parameters, in insertion order."""
        return self._parameters.keys()

    def values(self):
        """The parameters, in insertion order."""
        return self._parameters.values()

    def items(self):
        """The ``(name, parameter)`` pairs, in insertion order."""
        return self._parameters.items()
