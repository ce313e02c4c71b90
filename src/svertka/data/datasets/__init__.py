"""Datasets in their standard formats; ``Digits`` is embedded and works offline."""

from svertka.data.datasets.base import ImageArrayDataset  # noqa: F401
from svertka.data.datasets.digits import Digits  # noqa: F401
