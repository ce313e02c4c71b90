"""svertka.onnx: models out to ONNX (``export``).

``export`` needs the ``onnx`` package: ``pip install "svertka[onnx]"``.
"""

from svertka.onnx.export import UnsupportedOperatorError, export  # noqa: F401
