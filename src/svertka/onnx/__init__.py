"""svertka.onnx: ONNX models in and out.

* :func:`load` reads an ONNX model (a file or an ``onnx.ModelProto``) and returns an
  :class:`OnnxModule`: an ``nn.Module`` that runs the graph with svertka's own ops, so it can be
  evaluated, inspected with ``svertka.analysis.summary`` and fine-tuned.
* :func:`export` traces a model's forward through svertka's autograd graph and writes it as an
  ONNX model (``supported_ops()`` lists the ops it translates; any other raises
  :class:`UnsupportedOperatorError` naming the op and the module).

Both need the maintained ``onnx`` package: ``pip install "svertka[onnx]"``. Importing this
package does not import ``onnx``; :func:`load` and :func:`export` do.
"""

from svertka.onnx._export import UnsupportedOperatorError, export, supported_ops
from svertka.onnx._import import OnnxModule, load

__all__ = ["load", "OnnxModule", "export", "supported_ops", "UnsupportedOperatorError"]
