"""``svertka.utils.data`` mirrors ``torch.utils.data`` (it is :mod:`svertka.data`)."""

from svertka.utils import data  # noqa: F401
