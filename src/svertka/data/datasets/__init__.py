"""Datasets in their standard formats; ``Digits`` is embedded and works offline."""

from svertka.data.datasets.base import ImageArrayDataset  # noqa: F401
from svertka.data.datasets.digits import Digits  # noqa: F401

# isort: split
from svertka.data.datasets.cifar import CIFAR10, CIFAR100  # noqa: F401
from svertka.data.datasets.folder import ImageFolder  # noqa: F401
from svertka.data.datasets.mnist import MNIST, FashionMNIST  # noqa: F401
