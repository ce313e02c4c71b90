"""svertka: a convolutional-neural-network framework in readable NumPy with PyTorch's API."""

__version__ = "0.1.0"

from svertka.random import manual_seed  # noqa: E402,F401
