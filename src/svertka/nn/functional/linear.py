"""Linear layers and shape helpers: ``linear``, ``bilinear``, ``flatten``."""

__all__ = []
