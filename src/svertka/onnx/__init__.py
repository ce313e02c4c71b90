"""svertka.onnx: models out to ONNX (``export``; the ops it translates: ``supported_ops``).

``export`` needs the ``onnx`` package: ``pip install "svertka[onnx]"``. (The function
``export`` shadows the module ``svertka.onnx.export`` as an attribute of this package, as
``torch.onnx.export`` does.)
"""

from svertka.onnx.export import UnsupportedOperatorError, export, supported_ops  # noqa: F401
