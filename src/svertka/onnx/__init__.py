"""svertka.onnx: models out to ONNX (``export``; the ops it translates: ``supported_ops``).

``export`` needs the ``onnx`` package: ``pip install "svertka[onnx]"``.
"""

from svertka.onnx._export import UnsupportedOperatorError, export, supported_ops  # noqa: F401
