"""svertka.onnx: ONNX models in (and, later, out).

* :func:`load` reads an ONNX model (a file or an ``onnx.ModelProto``) and returns an
  :class:`OnnxModule`: an ``nn.Module`` that runs the graph with svertka's own ops, so it can be
  evaluated, inspected with ``svertka.analysis.summary`` and fine-tuned.
* ``export`` (issue 15, item 4) is to be added here by the exporter: define it in
  ``svertka/onnx/_export.py`` and it is picked up by the ``__getattr__`` below (or import it
  here directly and drop that hook).

Both need the maintained ``onnx`` package: ``pip install "svertka[onnx]"``. Importing this
package does not import ``onnx``; :func:`load` does.
"""

from svertka.onnx._import import OnnxModule, load

__all__ = ["load", "OnnxModule"]


def __getattr__(name):
    # The exporter's entry point lives in its own module (a later change); until it exists,
    # ``svertka.onnx.export`` is a plain AttributeError that says so.
    if name == "export":
        try:
            from svertka.onnx._export import export
        except ModuleNotFoundError as exc:
            if exc.name != "svertka.onnx._export":
                raise
            raise AttributeError("svertka.onnx.export is not available yet (ONNX export is "
                                 "issue 15, item 4)") from None
        return export
    raise AttributeError(f"module 'svertka.onnx' has no attribute {name!r}")
