"""`Module`: the base of every layer and model; holds parameters, buffers and submodules."""

from __future__ import annotations

import warnings
from collections import OrderedDict, namedtuple

import numpy as np

from svertka import _dtype
from svertka.autograd import grad_mode
from svertka.autograd.hooks import BackwardHook, RemovableHandle
from svertka.nn.parameter import Buffer, Parameter
from svertka.tensor import Tensor


class StateDictError(RuntimeError, ValueError):
    """``load_state_dict`` found problems; the message lists every one of them.

    A ``RuntimeError`` as in torch, and a ``ValueError`` as svertka's errors for bad values.
    """


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _as_array(value):
    """A NumPy view of a state-dict value: svertka Tensor, NumPy array, torch tensor, number."""
    if isinstance(value, Tensor):
        return value._data
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)


_HOOK_DICTS = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
               "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_backward_hooks",
               "_backward_pre_hooks")


class Module:
    """Base class of layers and models, as ``torch.nn.Module``.

    Subclasses create their parameters (``nn.Parameter``), buffers (``register_buffer``) and
    submodules as attributes in ``__init__`` and compute in ``forward``; calling the module runs
    the forward pre-hooks, ``forward`` and the forward hooks.

    Examples::

        >>> import svertka
        >>> from svertka import nn
        >>> class Affine(nn.Module):
        ...     def __init__(self, n):
        ...         super().__init__()
        ...         self.scale = nn.Parameter(svertka.ones(n))
        ...         self.register_buffer("calls", svertka.zeros((), dtype=svertka.int64))
        ...     def forward(self, x):
        ...         return x * self.scale
        >>> m = Affine(3)
        >>> list(m.state_dict())
        ['scale', 'calls']
        >>> m(svertka.ones(2, 3)).shape
        svertka.Size([2, 3])
    """

    training: bool

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments")
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        for name in _HOOK_DICTS:
            object.__setattr__(self, name, OrderedDict())

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        """The computation of the module, on its inputs; every subclass overrides it.

        Call the module (``module(x)``) rather than ``forward`` so that the hooks run.
        """
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    def _hooks(self, name):
        """The hook dict ``name``, created for modules made before it existed (old pickles)."""
        d = self.__dict__.get(name)
        if d is None:
            d = OrderedDict()
            object.__setattr__(self, name, d)
        return d

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if d.get("_forward_pre_hooks"):
            with_kwargs = self._hooks("_forward_pre_hooks_with_kwargs")
            for hook_id, hook in list(self._forward_pre_hooks.items()):
                if hook_id in with_kwargs:
                    result = hook(self, args, kwargs)
                    if result is not None:
                        if not (isinstance(result, tuple) and len(result) == 2):
                            raise RuntimeError(f"forward pre-hook must return None or a tuple "
                                               f"of (new_args, new_kwargs), but got {result}.")
                        args, kwargs = result
                else:
                    result = hook(self, args)
                    if result is not None:
                        args = result if isinstance(result, tuple) else (result,)
        bw_hook = None
        if d.get("_backward_hooks") or d.get("_backward_pre_hooks"):
            bw_hook = BackwardHook(self, list(self._hooks("_backward_hooks").values()),
                                   list(self._hooks("_backward_pre_hooks").values()))
            args = bw_hook.setup_input_hook(args)
        if not d.get("_forward_hooks"):
            out = self.forward(*args, **kwargs)
        else:
            out = self._forward_with_hooks(args, kwargs)
        if bw_hook is not None:
            out = bw_hook.setup_output_hook(out)
        return out

    def _forward_with_hooks(self, args, kwargs):
        """``forward`` then the forward hooks; ``always_call`` hooks also run on an error."""
        with_kwargs = self._hooks("_forward_hooks_with_kwargs")
        always = self._hooks("_forward_hooks_always_called")
        called, out = set(), None
        try:
            out = self.forward(*args, **kwargs)
            for hook_id, hook in list(self._forward_hooks.items()):
                called.add(hook_id)
                if hook_id in with_kwargs:
                    result = hook(self, args, kwargs, out)
                else:
                    result = hook(self, args, out)
                if result is not None:
                    out = result
        except Exception:
            for hook_id, hook in list(self._forward_hooks.items()):
                if hook_id not in always or hook_id in called:
                    continue
                try:
                    if hook_id in with_kwargs:
                        result = hook(self, args, kwargs, out)
                    else:
                        result = hook(self, args, out)
                    if result is not None:
                        out = result
                except Exception as e:  # noqa: BLE001 - the forward's error is raised below
                    warnings.warn(f"forward hook with ``always_call=True`` raised an exception "
                                  f"that was silenced as another error was raised in "
                                  f"forward: {e}", stacklevel=2)
            raise
        return out

    def _register(self, name, hook, prepend, flags=()):
        if not callable(hook):
            public = {"_forward_hooks": "register_forward_hook",
                      "_forward_pre_hooks": "register_forward_pre_hook",
                      "_backward_hooks": "register_full_backward_hook",
                      "_backward_pre_hooks": "register_full_backward_pre_hook"}[name]
            raise TypeError(f"{public}: hook must be callable, got {type(hook).__name__}")
        hooks = self._hooks(name)
        extra = [self._hooks(n) for n, on in flags]
        handle = RemovableHandle(hooks, extra_dict=extra)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        for n, on in flags:
            if on:
                self._hooks(n)[handle.id] = True
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """Register ``hook(module, args, output)`` to run after ``forward``.

        A non-None return replaces the output.

        Args:
            hook: the callable; with ``with_kwargs=True`` it is called as
                ``hook(module, args, kwargs, output)``.
            prepend: run it before the hooks already registered (default: after).
            with_kwargs: pass the keyword arguments of the call too.
            always_call: run it even when ``forward`` (or an earlier hook) raises.

        Returns:
            A handle whose ``remove()`` unregisters the hook (also a context manager).

        Examples::

            >>> import svertka
            >>> lin = svertka.nn.Linear(3, 2)
            >>> shapes = []
            >>> with lin.register_forward_hook(lambda m, a, out: shapes.append(out.shape)):
            ...     _ = lin(svertka.ones(4, 3))
            >>> _ = lin(svertka.ones(1, 3))
            >>> shapes
            [svertka.Size([4, 2])]
        """
        return self._register("_forward_hooks", hook, prepend,
                              (("_forward_hooks_with_kwargs", with_kwargs),
                               ("_forward_hooks_always_called", always_call)))

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Register ``hook(module, args)`` to run before ``forward``.

        A non-None return replaces the positional arguments (a single value is wrapped in a
        tuple). With ``with_kwargs=True`` it is called as ``hook(module, args, kwargs)`` and
        may return a new ``(args, kwargs)`` pair. ``prepend`` runs it before the hooks already
        registered. Returns a removable handle.
        """
        return self._register("_forward_pre_hooks", hook, prepend,
                              (("_forward_pre_hooks_with_kwargs", with_kwargs),))

    def register_full_backward_hook(self, hook, prepend=False):
        """Register ``hook(module, grad_input, grad_output) -> tuple or None``.

        Called once per forward call's backward, when the gradients with respect to the
        module's inputs are computed: ``grad_input`` has one entry per positional argument
        (``None`` where it is not a tensor that requires grad), ``grad_output`` one per output
        tensor. A non-None return replaces ``grad_input``. As in torch, the module's inputs
        and outputs must not be modified in place, and the arguments must not be modified.

        Departure from torch: a module with several inputs (or outputs) that receive
        gradients may read, not replace, them (svertka's graph nodes have one output).

        Returns:
            A handle whose ``remove()`` unregisters the hook.

        Examples::

            >>> import svertka
            >>> lin = svertka.nn.Linear(3, 2)
            >>> h = lin.register_full_backward_hook(lambda m, gi, go: (svertka.ones(1, 3),))
            >>> x = svertka.ones(1, 3, requires_grad=True)
            >>> lin(x).sum().backward()
            >>> x.grad
            tensor([[1., 1., 1.]])
        """
        return self._register("_backward_hooks", hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Register ``hook(module, grad_output) -> tuple or None``, called when the
        gradients with respect to the module's outputs are computed, before those with
        respect to its inputs; a non-None return replaces ``grad_output``. Returns a removable
        handle."""
        return self._register("_backward_pre_hooks", hook, prepend)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() call")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._remove_from(name, buffers, modules)
            params[name] = value
        elif isinstance(value, Module):
            self._remove_from(name, params, buffers)
            modules[name] = value
        elif isinstance(value, Buffer):
            self._remove_from(name, params, modules)
            self.register_buffer(name, value, persistent=value.persistent)
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                f"(svertka.nn.Parameter or None expected)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"{name!r} (svertka.nn.Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} "
                                f"(svertka.Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _remove_from(self, name, *dicts):
        self.__dict__.pop(name, None)
        for d in dicts:
            d.pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        store = d.get("_parameters")                    # the common case: self.weight
        if store is not None and name in store:
            return store[name]
        store = d.get("_buffers")
        if store is not None and name in store:
            return store[name]
        store = d.get("_modules")
        if store is not None and name in store:
            return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def register_parameter(self, name, param):
        """Add ``param`` (an ``nn.Parameter`` or ``None``) as parameter ``name``."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_parameter: parameter name must be a non-empty string "
                           f"without '.', got {name!r}")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: cannot assign {type(param).__name__} "
                            f"object to parameter {name!r} (svertka.nn.Parameter or None "
                            f"required)")
        self._remove_from(name, self._buffers, self._modules)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a tensor that is state but not a parameter (BatchNorm's running mean);
        ``persistent=False`` leaves it out of ``state_dict``."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: buffer name must be a non-empty string without "
                           f"'.', got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: cannot assign {type(tensor).__name__} object to "
                            f"buffer {name!r} (svertka.Tensor or None required)")
        if isinstance(tensor, Buffer):
            tensor = Tensor._make(tensor._data)
        self._remove_from(name, self._parameters, self._modules)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add ``module`` (a ``Module`` or ``None``) as submodule ``name``."""
        if not isinstance(name, str) or "." in name or not name:
            raise KeyError(f"add_module: module name must be a non-empty string without '.', "
                           f"got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        self._remove_from(name, self._parameters, self._buffers)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The submodule at the dotted path ``target`` (``''`` is the module itself)."""
        module = self
        for item in target.split(".") if target else []:
            if item not in module._modules:
                raise AttributeError(f"get_submodule: {type(module).__name__} has no "
                                     f"submodule {item!r} (looking up {target!r})")
            module = module._modules[item]
        return module

    def get_parameter(self, target):
        """The parameter at the dotted path ``target`` (``'layer1.0.weight'``)."""
        mod_path, _, name = target.rpartition(".")
        module = self.get_submodule(mod_path)
        if name not in module._parameters:
            raise AttributeError(f"get_parameter: {type(module).__name__} has no parameter "
                                 f"{name!r}")
        return module._parameters[name]

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yield ``(dotted name, module)`` for the module and every submodule, depth first.

        A module reachable by two paths is yielded once unless ``remove_duplicate=False``.
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = f"{prefix}.{name}" if prefix else name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        """Yield the module and every submodule, depth first, each once."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """Yield ``(name, module)`` for each direct submodule, each once."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        """Yield each direct submodule once."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for mod_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(dotted name, parameter)`` for the parameters of the module and, with
        ``recurse=True``, of its submodules; a shared parameter is yielded once.
        """
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """Yield the parameters of the module and (``recurse=True``) its submodules, each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(dotted name, buffer)`` for the buffers, as :meth:`named_parameters`."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        """Yield the buffers of the module and (``recurse=True``) its submodules, each once."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------------ modes
    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode on the module and all submodules;
        return self.
        """
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool, got mode={mode!r}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Set evaluation mode (dropout off, batch norm uses running statistics); return self."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on every parameter; return self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of every parameter: to ``None`` (default) or, with
        ``set_to_none=False``, to zeros.
        """
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad._data[...] = 0
                p.grad._version[0] += 1

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first) and on self, e.g. to initialise."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ dtype
    def _cast(self, np_dtype):
        for module in self.modules():
            for store in (module._parameters, module._buffers):
                for t in store.values():
                    if t is None or t._data.dtype.kind != "f":
                        continue
                    # in place on the same objects: optimizers keep references to parameters
                    t._data = t._data.astype(np_dtype)
                    t._version[0] += 1
                    if t.grad is not None:
                        t.grad = Tensor._make(t.grad._data.astype(np_dtype))
        return self

    def to(self, *args, dtype=None, device=None):
        """``to(dtype)`` casts floating-point parameters and buffers; ``to('cpu')`` is a no-op."""
        from svertka._device import check_device
        from svertka._device import device as device_type

        for a in args:
            if isinstance(a, (str, device_type)) or a is None:
                device = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
            else:
                dtype = a
        check_device(device, "to")
        if dtype is not None:
            dt = _dtype.to_dtype(dtype)
            if not dt.is_floating_point:
                raise TypeError(f"to: nn.Module.to only accepts floating point dtypes, got "
                                f"dtype={dt}")
            self._cast(dt.np)
        return self

    def double(self):
        """Cast floating-point parameters and buffers to float64, in place; return self."""
        return self._cast(np.dtype(np.float64))

    def float(self):
        """Cast floating-point parameters and buffers to float32, in place; return self."""
        return self._cast(np.dtype(np.float32))

    def half(self):
        """Cast floating-point parameters and buffers to float16, in place; return self."""
        return self._cast(np.dtype(np.float16))

    def cpu(self):
        """Return self: svertka runs on the CPU only."""
        return self

    def cuda(self, device=None):
        """Raise ``ValueError``: svertka runs on the CPU only (torch moves the module to a GPU)."""
        raise ValueError("cuda: svertka runs on the CPU only (svertka.cuda.is_available() is "
                         "False)")

    # ------------------------------------------------------------------ state
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered dict from dotted names to parameters and persistent buffers (detached
        tensors sharing memory, as torch), in registration order, depth first."""
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=f"{prefix}{name}.",
                                  keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values into the parameters and buffers, in place.

        Values may be svertka Tensors, NumPy arrays or torch tensors; they are cast to each
        parameter's dtype. Every problem is collected first (missing keys, unexpected keys,
        shape mismatches) and reported in one ``StateDictError`` (a RuntimeError and a
        ValueError). With ``strict=False`` missing and unexpected keys are returned instead.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a dict-like state_dict, got "
                            f"{type(state_dict).__name__}")
        for name, module in list(self.named_modules()):
            if hasattr(module, "_lazy_load"):  # lazy layers take their shapes from the state
                module._lazy_load(state_dict, f"{name}." if name else "")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        pending = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            try:
                value = _as_array(state_dict[key])
            except Exception as e:  # noqa: BLE001 - reported with the key below
                errors.append(f'could not read the value of "{key}": {e}')
                continue
            if value.shape != target._data.shape:
                errors.append(f'size mismatch for {key}: copying a param with shape '
                              f'{tuple(value.shape)} from checkpoint, the shape in current '
                              f'model is {tuple(target.shape)}.')
                continue
            if value.dtype.kind not in "fiub":
                errors.append(f'unsupported dtype {value.dtype} for "{key}"')
                continue
            pending.append((target, value))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}:"
                                 "\n\t" + "\n\t".join(errors))
        with grad_mode.no_grad():
            for target, value in pending:
                target._data[...] = value.astype(target._data.dtype, copy=False)
                target._version[0] += 1
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self):
        """The module's own settings for its ``repr`` (``'3, 8, kernel_size=(3, 3)'``); override it
        in layers with hyperparameters. The base returns ``''``.
        """
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, module in self._modules.items():
            text = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"
