"""The import graph of ``src/svertka`` runs down the layers (STYLE.md convention 7).

An AST walk (no imports executed) collects every ``import`` of a svertka module, at module level
and inside functions alike, relative imports resolved, and gives each module the layer of the
table below. A module may import its own layer and the layers under it; an import of a higher
layer is allowed only when it is listed in ``ALLOWED_UPWARD``.

Run ``python tests/test_import_layers.py`` for the measurement: the line count of tensor.py, the
imports that point up, and the largest strongly connected component (the largest circle of
modules that import each other, directly or through others).
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# The layers, lowest first. A module belongs to the entry with the longest matching prefix
# (``svertka.nn.functional`` before ``svertka.nn``). The small private modules:
#   - ``backends`` (the user's settings: threads, convolution algorithm, allocator) and the
#     NumPy-level helpers ``_dtype``, ``_validate``, ``_device``, ``random``, ``_malloc``,
#     ``_tensor_base`` (``TensorBase``, the base class of Tensor: shape, dtype, conversions)
#     and ``_promotion`` (torch's type promotion) form the base layer: they import no Tensor
#     class, so every layer may use them; only kernels (NumPy only) may not.
#   - the core layer of STYLE.md (ops/autograd/tensor) is split in its own order: autograd
#     (Function, the engine) < ops (Function subclasses on ndarrays) < the tensor helpers that
#     tensor.py is made from (``_tensor_str`` printing, ``_indexing``, ``_convert`` data to
#     arrays, ``_tensor_ops`` the op bodies and free functions, ``_tensor_docs`` the docstrings
#     of the rarer methods) < ``tensor`` itself. autograd makes Tensors,
#     which is the one inherent ring.
#   - ``_creation`` (the factories) and ``_functions`` (``svertka.exp(x)``...) build on Tensor:
#     the tensor API, above tensor.py and below ``nn.functional``.
#   - ``serialization`` knows ``nn.Parameter``, ``utils`` re-exports ``data``: the optim/data
#     layer, with the package root ``svertka`` (its ``__init__`` imports ``nn`` and ``optim``).
#   - ``bench`` runs models: the tools layer.
#   - ``distributed`` (MPI process groups and collectives on tensors) sits right above the
#     tensor API, so that ``nn.parallel`` and ``data``'s DistributedSampler can use it.
LAYERS = [
    ("kernels", ["svertka.kernels"]),
    ("base", ["svertka._dtype", "svertka._validate", "svertka._device", "svertka.random",
              "svertka._malloc", "svertka.backends", "svertka._tensor_base",
              "svertka._promotion"]),
    ("autograd", ["svertka.autograd"]),
    ("ops", ["svertka.ops"]),
    ("tensor helpers", ["svertka._tensor_str", "svertka._indexing", "svertka._convert",
                        "svertka._tensor_ops", "svertka._tensor_docs"]),
    ("tensor", ["svertka.tensor"]),
    ("tensor API", ["svertka._creation", "svertka._functions"]),
    ("distributed", ["svertka.distributed"]),
    ("nn.functional", ["svertka.nn.functional"]),
    ("nn modules", ["svertka.nn"]),
    ("optim/data", ["svertka.optim", "svertka.data", "svertka.utils", "svertka.serialization",
                    "svertka"]),
    ("tools", ["svertka.models", "svertka.analysis", "svertka.vision", "svertka.viz",
               "svertka.explain",
               "svertka.train", "svertka.bench", "svertka.onnx"]),
    ("cli", ["svertka.cli", "svertka.__main__"]),
]

# (importer, imported) pairs allowed to point up. autograd builds Tensors (Function.apply, the
# engine, grad, gradcheck) while Tensor calls the ops, which are Functions: the inherent ring
# Tensor <-> Function <-> ops (each import of tensor.py there is inside a function).
ALLOWED_UPWARD = {
    ("svertka.autograd.function", "svertka.tensor"),
    ("svertka.autograd.engine", "svertka.tensor"),
    ("svertka.autograd.gradcheck", "svertka.tensor"),
    ("svertka.autograd.hooks", "svertka.tensor"),
    ("svertka.autograd.graph", "svertka.tensor"),
    ("svertka.autograd.functional", "svertka.tensor"),
    ("svertka.autograd.gradients", "svertka.tensor"),
}

# Circles inside one layer, left as they are (a circle across layers needs an import that
# points up, which the test above refuses). None today: erf lives in kernels.special for both
# op modules, gradcheck calls the engine, and viz's modules share viz._backend.
KNOWN_CIRCLES = []


def module_name(path, root=SRC):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules(root=SRC):
    """``{module name: path}`` of every module of the svertka package under ``root``."""
    return {module_name(p, root): p for p in sorted((root / "svertka").rglob("*.py"))}


def _resolve(importer, is_package, node, modules):
    """The svertka modules one ``import`` statement names (``from a import b`` names ``a.b``
    when that is a module, else ``a``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in modules]
    base = node.module or ""
    if node.level:
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    found = []
    for a in node.names:
        sub = f"{base}.{a.name}"
        if sub in modules:
            found.append(sub)
        elif base in modules:
            found.append(base)
    return found


@functools.lru_cache(maxsize=4)
def import_graph(root=SRC):
    """``{module: {imported module: first line}}`` over svertka, imports inside functions
    included (imports under ``if TYPE_CHECKING:`` would count too: there are none). Cached:
    read it, do not change it."""
    modules = source_modules(root)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        edges = graph.setdefault(name, {})
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(name, path.name == "__init__.py", node, modules):
                    if target != name:
                        edges.setdefault(target, node.lineno)
    return graph


def layer_of(module):
    """``(rank, layer name)`` of a svertka module (the longest matching prefix of LAYERS)."""
    best = None
    for rank, (layer, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if module == p or module.startswith(p + "."):
                if best is None or len(p) > best[0]:
                    best = (len(p), rank, layer)
    if best is None:
        raise KeyError(f"{module} has no layer: add it to LAYERS in {__file__}")
    return best[1], best[2]


def upward_imports(graph):
    """``[(importer, imported, line)]`` where the imported module's layer is higher."""
    return sorted((a, b, line) for a, edges in graph.items() for b, line in edges.items()
                  if layer_of(b)[0] > layer_of(a)[0])


def strongly_connected_components(graph):
    """The strongly connected components, largest first (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(graph.get(w, ()))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    out.append(sorted(comp))
    return sorted(out, key=len, reverse=True)


def without(graph, pairs):
    return {a: {b: n for b, n in edges.items() if (a, b) not in pairs}
            for a, edges in graph.items()}


def report(root=SRC):
    graph = import_graph(root)
    tensor_py = root / "svertka" / "tensor.py"
    lines = [f"tensor.py: {len(tensor_py.read_text().splitlines())} lines"]
    up = upward_imports(graph)
    lines.append(f"imports pointing up the layers: {len(up)} (module pairs)")
    for a, b, line in up:
        tag = "  (allowed)" if (a, b) in ALLOWED_UPWARD else ""
        lines.append(f"  {a}:{line} ({layer_of(a)[1]}) -> {b} ({layer_of(b)[1]}){tag}")
    comps = strongly_connected_components(graph)
    lines.append(f"largest import circle: {len(comps[0])} modules: {', '.join(comps[0])}")
    rest = [c for c in strongly_connected_components(without(graph, ALLOWED_UPWARD))
            if len(c) > 1]
    lines.append(f"circles without the allowed imports: {len(rest)}")
    lines += [f"  {len(c)} modules: {', '.join(c)}" for c in rest]
    return "\n".join(lines)


# ---------------------------------------------------------------------- tests
def test_import_graph_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "svertka"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("def f():\n    from svertka import high\n")
    (pkg / "high.py").write_text("from . import low\nfrom .sub import leaf\n")
    (pkg / "sub" / "__init__.py").write_text("from ..low import f\n")
    (pkg / "sub" / "leaf.py").write_text("from .. import high as h\nimport svertka.sub\n")
    graph = import_graph(tmp_path)
    assert graph["svertka.low"] == {"svertka.high": 2}
    assert graph["svertka.high"] == {"svertka.low": 1, "svertka.sub.leaf": 2}
    assert graph["svertka.sub"] == {"svertka.low": 1}
    assert graph["svertka.sub.leaf"] == {"svertka.high": 1, "svertka.sub": 2}
    assert strongly_connected_components(graph)[0] == ["svertka.high", "svertka.low",
                                                       "svertka.sub", "svertka.sub.leaf"]


def test_layer_of_picks_the_longest_prefix():
    assert layer_of("svertka.nn.functional.conv")[1] == "nn.functional"
    assert layer_of("svertka.nn.modules.conv")[1] == "nn modules"
    assert layer_of("svertka.tensor")[1] == "tensor"
    assert layer_of("svertka")[1] == "optim/data"


def test_every_module_has_a_layer():
    for name in source_modules():
        layer_of(name)  # raises KeyError naming the module


def test_imports_never_point_up_the_layers():
    up = [(a, b, line) for a, b, line in upward_imports(import_graph())
          if (a, b) not in ALLOWED_UPWARD]
    assert up == [], "imports pointing up the layers (importer, imported, line): " + str(up)


def test_allowed_upward_imports_still_exist():
    # an exception that no longer happens is deleted from ALLOWED_UPWARD, so it cannot hide
    # a new one
    present = {(a, b) for a, b, _ in upward_imports(import_graph())}
    assert ALLOWED_UPWARD - present == set()


def test_tensor_base_is_the_base_of_tensor_alone():
    # the modules below tensor.py test isinstance(x, TensorBase) to mean "x is a Tensor"
    from svertka._tensor_base import TensorBase
    from svertka.tensor import Tensor

    assert TensorBase.__subclasses__() == [Tensor]


def test_no_import_circle_beyond_the_known_ones():
    # without autograd's imports of tensor.py every dependency
    # runs one way, but for the known circles inside one layer; tensor.py and the modules it
    # is made from (_tensor_ops, _indexing, ...) are in none
    comps = strongly_connected_components(without(import_graph(), ALLOWED_UPWARD))
    assert sorted(c for c in comps if len(c) > 1) == KNOWN_CIRCLES


if __name__ == "__main__":
    print(report(Path(sys.argv[1]) if len(sys.argv) > 1 else SRC))
