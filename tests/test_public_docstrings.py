"""Every public class and function of svertka has a docstring.

Public: reachable by a name without a leading underscore from ``svertka`` or from a module whose
dotted path has no part with one (``svertka.zeros``, ``svertka.nn.Conv2d``,
``svertka.ops.conv.ConvNd``), and defined in svertka. A name a module imports from a private
module (``svertka._validate.is_int``) is an implementation detail unless the module lists it in
``__all__`` (a deliberate re-export, like ``svertka.zeros`` from ``svertka._creation``). The
svertka-defined base classes of a public class are public too: their methods are its methods
(``Tensor.dim`` lives on ``svertka._tensor_base.TensorBase``). Methods (static and class methods
included: ``Function.forward``) count when they or the method they override say what they do.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import pydoc

import pytest

import svertka
from svertka import _tensor_docs


def _is_private(module_name: str) -> bool:
    return any(part.startswith("_") for part in module_name.split(".")[1:])


def _public_modules():
    yield svertka
    for info in pkgutil.walk_packages(svertka.__path__, "svertka."):
        if not _is_private(info.name):
            yield importlib.import_module(info.name)


def _public_objects():
    seen = {}
    for module in _public_modules():
        exported = getattr(module, "__all__", None)
        names = exported or [n for n in dir(module) if not n.startswith("_")]
        for name in names:
            obj = getattr(module, name, None)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            defined_in = getattr(obj, "__module__", "") or ""
            if not defined_in.startswith("svertka"):
                continue
            if _is_private(defined_in) and not exported:
                continue
            seen[(defined_in, obj.__qualname__)] = obj
            if inspect.isclass(obj):
                for base in obj.__mro__[1:]:
                    if base.__module__.startswith("svertka"):
                        seen[(base.__module__, base.__qualname__)] = base
    return seen


def _is_method(member) -> bool:
    return inspect.isfunction(member) or isinstance(member, (staticmethod, classmethod))


def _undocumented():
    missing = []
    for (module, qualname), obj in sorted(_public_objects().items()):
        if not qualname.rsplit(".", 1)[-1].startswith("_") and not (obj.__doc__ or "").strip():
            missing.append(f"{module}.{qualname}")
        if inspect.isclass(obj):
            for name, member in vars(obj).items():
                if name.startswith("_") or not _is_method(member):
                    continue
                if not (inspect.getdoc(getattr(obj, name)) or "").strip():
                    missing.append(f"{module}.{qualname}.{name}")
    return missing


def test_every_public_class_and_function_has_a_docstring():
    missing = _undocumented()
    assert not missing, f"{len(missing)} without a docstring:\n" + "\n".join(missing)


def test_tensor_docs_are_the_methods_docstrings_in_help():
    # the docstrings kept in _tensor_docs.py read as if written in tensor.py
    for name, doc in _tensor_docs.DOCS.items():
        assert inspect.getdoc(getattr(svertka.Tensor, name)) == inspect.cleandoc(doc), name
    shown = pydoc.render_doc(svertka.Tensor.topk, renderer=pydoc.plaintext)
    assert "Examples::" in shown and "svertka.tensor([1., 5., 3., 4.]).topk(2)" in shown


def test_tensor_docs_attach_refuses_a_method_documented_twice():
    def method(doc):
        def f(self):
            pass
        f.__doc__ = doc
        return f

    methods = {name: method(None) for name in _tensor_docs.DOCS}
    methods["topk"] = method("Documented in place.")
    with pytest.raises(RuntimeError, match="Tensor.topk is documented in tensor.py and in "
                                           "_tensor_docs.py"):
        _tensor_docs.attach(type("Documented", (), methods))
