"""ONNX import: :func:`load` turns an ONNX graph into an :class:`OnnxModule`.

The graph is read with the maintained ``onnx`` package (parsing, ``onnx.checker``, shape
inference, ``numpy_helper``); nothing in the file is ever executed. Each node becomes one step
of the module's forward: Conv / ConvTranspose / Gemm / BatchNormalization / pooling / LRN /
Dropout nodes whose weights are initializers become real ``nn`` modules (so ``summary`` and
the receptive-field analysis see them), the rest are calls of ``svertka.nn.functional`` or
Tensor methods. Values that do not depend on a float graph input (shapes, indices, the
``Shape -> Gather -> Concat -> Reshape`` chains exporters emit) are computed in NumPy, once at
load time where they depend on initializers only, and otherwise at run time on the concrete
input's shape.
"""

from __future__ import annotations

import io
import math
import os
import re

import numpy as np

from svertka import nn
from svertka._creation import as_tensor
from svertka.nn.parameter import Parameter
from svertka.onnx import _ops

__all__ = ["load", "OnnxModule"]

_FN = "svertka.onnx.load"


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError(f'{_FN}: the onnx package is needed to read ONNX models; install it '
                          f'with pip install "svertka[onnx]"') from None
    return onnx


def _sanitize(name, taken, fallback):
    """A Python identifier for a module or parameter name, unique in ``taken``."""
    base = re.sub(r"\W+", "_", name).strip("_") or fallback
    if base[0].isdigit():
        base = f"_{base}"
    out, k = base, 1
    while out in taken:
        k += 1
        out = f"{base}_{k}"
    taken.add(out)
    return out


class _Step:
    """One node of the graph: what it reads, what it writes, and the callable that does it."""

    __slots__ = ("name", "op_type", "inputs", "outputs", "run")

    def __init__(self, name, op_type, inputs, outputs, run):
        self.name, self.op_type, self.inputs, self.outputs, self.run = (name, op_type, inputs,
                                                                         outputs, run)


class _Builder:
    """What an operator handler (``svertka.onnx._ops``) may ask while its node is built."""

    def __init__(self, module, graph, opset, shapes, consts, float_inits):
        self.module = module
        self.opset = opset
        self.shapes = shapes
        self.consts = consts                # name -> ndarray known at load time
        self.float_inits = float_inits      # name -> ndarray: float initializers
        self.uses = {}
        for node in graph.node:
            for i, name in enumerate(node.input):
                if name:
                    self.uses.setdefault(name, []).append((node.op_type, i))
        self.taken = set()
        self.params = {}                    # ONNX name -> Parameter (loose, shared by name)
        self.node = None
        self.node_name = ""
        self.node_owned = set()             # the current node's inputs a module took over

    # ---- inputs of the current node
    def input(self, i):
        return self.node.input[i] if i < len(self.node.input) and self.node.input[i] else None

    def const(self, i):
        """Input ``i`` as an ndarray when it is known at load time, else ``None``."""
        name = self.input(i)
        return None if name is None else self.consts.get(name)

    def owned_init(self, i):
        """Input ``i`` as an ndarray when it is a float initializer read by this node only
        (so a module may own it as its parameter), else ``None``."""
        name = self.input(i)
        if name is None or name not in self.float_inits or len(self.uses.get(name, ())) != 1:
            return None
        return self.float_inits[name]

    def rank(self, i):
        shape = self.shapes.get(self.input(i))
        return None if shape is None else len(shape)

    def shape(self, i):
        """Input ``i``'s shape as shape inference tells it (``None`` for unknown dims), or
        ``None``."""
        return self.shapes.get(self.input(i))

    # ---- what the node adds to the module
    def add_module(self, module, owned, suffix=""):
        """Register ``module`` for this node (its name plus ``suffix``); ``owned`` maps its
        parameter/buffer names to the ONNX initializer names they came from."""
        name = _sanitize(self.node_name + suffix, self.taken,
                         f"{self.node.op_type}_{len(self.taken)}")
        self.module.add_module(name, module)
        for attr, onnx_name in owned.items():
            self.module.onnx_names[f"{name}.{attr}"] = onnx_name
            self.float_inits.pop(onnx_name, None)
            self.node_owned.add(onnx_name)
        return module


def _attributes(onnx, node):
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [s.decode("utf-8") for s in v]
        out[a.name] = v
    return out


class OnnxModule(nn.Module):
    """An ONNX graph as an ``nn.Module``; made by :func:`svertka.onnx.load`.

    ``forward(*inputs)`` takes the graph's inputs in order (Tensors or NumPy arrays) and returns
    its output (a tuple when the graph has several). Float initializers are parameters: those
    of Conv / Gemm / BatchNormalization nodes belong to submodules named after the nodes, the
    others are registered on this module under sanitized names.

    Attributes:
        input_names, output_names (list of str): the graph's inputs and outputs.
        input_shapes (list of tuple): each input's declared shape, ``None`` for a dimension
            that is symbolic or not given (``None`` for an input without a shape).
        onnx_names (dict): parameter/buffer name in ``state_dict()`` -> ONNX initializer name.
        opset (int): the model's ``ai.onnx`` opset version.
        source (str): the file it was read from (a file object's ``name``, ``'<bytes>'`` or
            ``'<ModelProto>'`` otherwise).
    """

    def __init__(self):
        super().__init__()
        self.input_names = []
        self.output_names = []
        self.input_shapes = []
        self.onnx_names = {}
        self.opset = 0
        self.source = "<ModelProto>"
        self._steps = []
        self._consts = {}
        self._loose = {}        # ONNX name -> attribute name of a loose parameter

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise ValueError(f"OnnxModule: expected {len(self.input_names)} inputs "
                             f"({', '.join(self.input_names)}), got {len(inputs)} "
                             f"({self.source})")
        env = dict(self._consts)
        for onnx_name, attr in self._loose.items():
            env[onnx_name] = getattr(self, attr)
        for name, x in zip(self.input_names, inputs):
            env[name] = _ops.as_value(x)
        for step in self._steps:
            args = [env[n] if n else None for n in step.inputs]
            out = step.run(*args)
            if not isinstance(out, tuple):
                out = (out,)
            for name, v in zip(step.outputs, out):
                if name:
                    env[name] = v
        outs = tuple(_ops.to_output(env[n]) for n in self.output_names)
        return outs[0] if len(outs) == 1 else outs

    def extra_repr(self):
        return f"source={self.source!r}, opset={self.opset}, nodes={len(self._steps)}"


def load(f, check=True):
    """Read an ONNX model and return it as an :class:`OnnxModule` running on svertka's ops.

    Args:
        f (str, os.PathLike, binary file object, bytes or onnx.ModelProto): the ``.onnx``
            file (a path, or a file opened with ``'rb'``, read from its current position),
            the file's contents, or a model in memory.
        check (bool): run ``onnx.checker.check_model`` first. Default: ``True``.

    Returns:
        OnnxModule: in eval mode (BatchNormalization uses its running statistics, Dropout is
        off); ``.train()`` makes BatchNormalization use batch statistics and Dropout drop, as
        their svertka modules do.

    Raises:
        ImportError: the ``onnx`` package is not installed (``pip install "svertka[onnx]"``).
        ValueError: the file is not a valid ONNX model, or the graph uses operators (or
            operator attributes) svertka does not implement; the message lists every such
            node with its name.

    Examples::

        >>> import numpy as np, onnx
        >>> from onnx import helper, TensorProto
        >>> import svertka
        >>> g = helper.make_graph(
        ...     [helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
        ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
        >>> m = svertka.onnx.load(helper.make_model(g))
        >>> m(svertka.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """
    onnx = _require_onnx()
    if isinstance(f, onnx.ModelProto):
        model, source = f, "<ModelProto>"
    else:
        data = None
        if isinstance(f, (str, os.PathLike)):
            source = os.fspath(f)       # onnx.load: also reads external data next to the file
        elif isinstance(f, (bytes, bytearray, memoryview)):
            source, data = "<bytes>", bytes(f)
        elif isinstance(f, io.TextIOBase):
            raise TypeError(f"{_FN}: f must be opened in binary mode ('rb'), got a text file "
                            f"({getattr(f, 'name', type(f).__name__)})")
        elif callable(getattr(f, "read", None)):
            source = str(getattr(f, "name", f"<{type(f).__name__}>"))
            data = f.read()
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"{_FN}: f must be a binary file object, but its read() "
                                f"returned {type(data).__name__} ({source})")
            data = bytes(data)
        else:
            raise TypeError(f"{_FN}: f must be a path (str or os.PathLike), a binary file "
                            f"object, bytes or an onnx.ModelProto, got {type(f).__name__}")
        try:
            model = onnx.load(source) if data is None else onnx.load_model_from_string(data)
        except OSError:
            raise
        except Exception as exc:   # protobuf's DecodeError and friends: not an ONNX file
            raise ValueError(f"{_FN}: {source} is not an ONNX model ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())})") from None
    if check:
        try:
            onnx.checker.check_model(model)
        except Exception as exc:    # onnx.checker.ValidationError
            raise ValueError(f"{_FN}: {source} fails onnx.checker "
                             f"({' '.join(str(exc).split())})") from None
    return _build(onnx, model, source)


def _opset(model):
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return 1


def _shapes(onnx, model):
    """Shape of every value that shape inference can tell (best effort; ``None`` for a
    symbolic dimension).

    Inference runs on a light copy of the graph: initializers of more than a few elements
    become typed inputs without data (their shapes are all it needs), so a model with
    hundreds of megabytes of weights is not copied for it.
    """
    from onnx import helper

    g = model.graph
    declared = {i.name for i in g.input}
    small, typed = [], []
    for init in g.initializer:
        if math.prod(init.dims) <= 64:
            small.append(init)
        elif init.name not in declared:
            typed.append(helper.make_tensor_value_info(init.name, init.data_type,
                                                       list(init.dims)))
    light = helper.make_model(
        helper.make_graph(list(g.node), g.name or "graph", list(g.input) + typed,
                          list(g.output), initializer=small, value_info=list(g.value_info)),
        opset_imports=list(model.opset_import), ir_version=model.ir_version)
    try:
        inferred = onnx.shape_inference.infer_shapes(light)
    except Exception:   # inference is a hint: a model it cannot handle still loads
        inferred = light
    shapes = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + \
            list(inferred.graph.output):
        shape = _declared_shape(vi)
        if shape is not None:
            shapes[vi.name] = shape
    for init in g.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def _build(onnx, model, source):
    from onnx import numpy_helper

    graph = model.graph
    opset = _opset(model)
    m = OnnxModule()
    m.source, m.opset = source, opset

    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    m.input_names = [i.name for i in graph.input if i.name not in inits]
    m.output_names = [o.name for o in graph.output]
    m.input_shapes = [_declared_shape(i) for i in graph.input if i.name not in inits]
    # float initializers read in a "static" position (a shape, scales, pads) stay constants
    static = {n for node in graph.node
              for i, n in enumerate(node.input)
              if n and i in _ops.STATIC.get(node.op_type, ())}
    float_inits = {k: v for k, v in inits.items()
                   if v.dtype.kind == "f" and k not in static}
    consts = {k: v for k, v in inits.items() if k not in float_inits}
    b = _Builder(m, graph, opset, _shapes(onnx, model), consts, float_inits)

    problems = []
    for i, node in enumerate(graph.node):
        name = node.name or f"{node.op_type}_{i}"     # the caller's ModelProto is not changed
        b.node, b.node_name, b.node_owned = node, name, set()
        if node.domain not in ("", "ai.onnx") or node.op_type not in _ops.HANDLERS:
            domain = f"{node.domain}." if node.domain not in ("", "ai.onnx") else ""
            problems.append(f"{domain}{node.op_type} (node {name!r})")
            continue
        attrs = _attributes(onnx, node)
        try:
            run = _ops.HANDLERS[node.op_type](b, node, attrs)
        except _ops.Unsupported as exc:
            problems.append(f"{node.op_type} (node {name!r}): {exc}")
            continue
        ins = ["" if n in b.node_owned else n for n in node.input]
        if all((not n) or n in consts for n in ins) and node.op_type not in _ops.VOLATILE:
            # every input known now: fold the node into constants
            try:
                out = run(*[consts[n] if n else None for n in ins])
            except _ops.Unsupported as exc:
                problems.append(f"{node.op_type} (node {name!r}): {exc}")
                continue
            out = out if isinstance(out, tuple) else (out,)
            if all(isinstance(v, np.ndarray) for v in out):
                consts.update({n: v for n, v in zip(node.output, out) if n})
                continue
        m._steps.append(_Step(name, node.op_type, ins, list(node.output), run))
    if problems:
        raise ValueError(f"{_FN}: {source} uses operators svertka does not implement: "
                         f"{'; '.join(problems)}")

    # the float initializers no module took become this module's parameters
    for onnx_name, arr in float_inits.items():
        if onnx_name not in b.uses:
            continue
        attr = _sanitize(onnx_name, b.taken, "param")
        m.register_parameter(attr, Parameter(as_tensor(np.array(arr))))
        m._loose[onnx_name] = attr
        m.onnx_names[attr] = onnx_name
    m._consts = {k: v for k, v in consts.items() if k in b.uses or k in m.output_names}
    m.eval()
    return m


def _declared_shape(value_info):
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)
