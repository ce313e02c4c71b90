"""`CIFAR10` and `CIFAR100` from the "python version" pickled batches, read safely.

The batches are pickles, and unpickling an arbitrary file can run arbitrary code. They are
read with :class:`RestrictedUnpickler`, which resolves exactly the four globals a NumPy array
needs (``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct``,
``numpy.ndarray``, ``numpy.dtype``) and refuses every other one before anything is called.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile

import numpy as np

from svertka._validate import error
from svertka.data.datasets.base import ImageArrayDataset
from svertka.data.datasets.download import ENV_VAR, download_resources

try:  # NumPy 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1
    from numpy.core.multiarray import _reconstruct

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle named a global outside the allowed NumPy-array constructors."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler for plain data and NumPy arrays: every other global is refused."""

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load global {module}.{name}: CIFAR batches hold only dicts, "
                f"lists, bytes, ints and NumPy arrays") from None


def safe_load(data, what, fn):
    """Unpickle ``data`` (bytes) with :class:`RestrictedUnpickler` and ``encoding='bytes'``
    (the batches were written by Python 2); errors name ``what``."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except UnsafePickleError as exc:
        raise error(fn, f"{what}: {exc}") from None
    except Exception as exc:  # any malformed pickle
        raise error(fn, f"{what}: not a readable CIFAR pickle ({type(exc).__name__}: "
                        f"{exc})") from exc


def _str_keys(d, what, fn):
    if not isinstance(d, dict):
        raise error(fn, f"{what}: expected a pickled dict, found {type(d).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in d.items()}


class CIFAR10(ImageArrayDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images of 32x32 in 10 classes.

    Reads the python batches ``cifar-10-batches-py/data_batch_1`` .. ``data_batch_5`` and
    ``test_batch`` (class names from ``batches.meta``) from ``root``, or, when that folder
    is absent, straight from the archive ``root/cifar-10-python.tar.gz`` (no extraction).

    Args:
        root: the folder holding ``cifar-10-batches-py/`` or the ``.tar.gz``.
        train: the training set (True) or the test set (False).
        transform: applied to each ``(32, 32, 3)`` uint8 image (without it a sample is a
            ``(3, 32, 32)`` float32 tensor in [0, 1]).
        target_transform: applied to each label.
        download: fetch the ``.tar.gz`` (MD5-verified, as published) into ``root`` from
            ``mirrors``, or from ``base_url`` / ``$SVERTKA_DATASETS_URL`` when set.
        base_url: a mirror (URL prefix) to download from instead of ``mirrors``.

    Examples::

        >>> from svertka.data.datasets import CIFAR10
        >>> CIFAR10("/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: CIFAR10: neither /nonexistent/cifar-10-batches-py/ nor ...
    """

    base_folder = "cifar-10-batches-py"
    filename = "cifar-10-python.tar.gz"
    mirrors = ["https://www.cs.toronto.edu/~kriz/"]
    resources = [("cifar-10-python.tar.gz",  # MD5 c58f30108f718f92721af3b95e74349a
                  "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")]
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    meta_file, labels_key, names_key = "batches.meta", "labels", "label_names"

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False, base_url=None):
        self.root = os.fspath(os.path.expanduser(root))
        self.train = train
        name = type(self).__name__
        folder = os.path.join(self.root, self.base_folder)
        archive = os.path.join(self.root, self.filename)
        if not os.path.isdir(folder) and not os.path.isfile(archive) and download:
            download_resources(name, self.resources, self.mirrors, self.root, base_url)
        batches = self.train_list if train else self.test_list
        if os.path.isdir(folder):
            sources = self._read_folder(folder, batches + [self.meta_file])
        elif os.path.isfile(archive):
            sources = self._read_archive(archive, batches + [self.meta_file])
        else:
            raise FileNotFoundError(
                f"{name}: neither {folder}/ nor {archive} exists: place the extracted "
                f"{self.base_folder}/ folder (with {', '.join(batches)} and {self.meta_file}) "
                f"or the archive {self.filename} in {self.root}, or pass download=True "
                f"(from {self.mirrors[0]}, or the mirror in ${ENV_VAR})")
        images, labels = [], []
        for b in batches:
            x, y = self._parse_batch(sources[b])
            images.append(x)
            labels.append(y)
        classes = self._parse_meta(sources[self.meta_file])
        labels = np.concatenate(labels)
        if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
            raise error(name, f"labels must be in [0, {len(classes)}) for the "
                              f"{len(classes)} classes of {self.meta_file}, found "
                              f"[{labels.min()}, {labels.max()}]")
        images = np.concatenate(images).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        super().__init__(np.ascontiguousarray(images), labels, classes, transform,
                         target_transform, name=name)

    def _read_folder(self, folder, members):
        """``{member: (path, bytes)}`` from the extracted folder."""
        out = {}
        for member in members:
            path = os.path.join(folder, member)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{type(self).__name__}: missing {path} (the "
                                        f"{self.base_folder}/ folder is incomplete)")
            with open(path, "rb") as f:
                out[member] = (path, f.read())
        return out

    def _read_archive(self, archive, members):
        """``{member: (description, bytes)}`` read straight from the tar archive."""
        name = type(self).__name__
        out = {}
        try:
            with tarfile.open(archive, "r:*") as tar:
                files = {m.name: m for m in tar.getmembers() if m.isfile()}
                for member in members:
                    key = f"{self.base_folder}/{member}"
                    if key not in files:
                        raise error(name, f"{archive}: the archive has no member {key}")
                    with tar.extractfile(files[key]) as f:
                        out[member] = (f"{archive}:{key}", f.read())
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise error(name, f"{archive}: not a readable tar archive ({exc})") from exc
        return out

    def _parse_batch(self, source):
        what, data = source
        name = type(self).__name__
        d = _str_keys(safe_load(data, what, name), what, name)
        if "data" not in d or self.labels_key not in d:
            raise error(name, f"{what}: the batch needs the keys 'data' and "
                              f"'{self.labels_key}', found {sorted(d)}")
        x, y = d["data"], d[self.labels_key]
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or \
                x.shape[1] != 3072:
            desc = (f"{x.dtype} array of shape {x.shape}" if isinstance(x, np.ndarray)
                    else type(x).__name__)
            raise error(name, f"{what}: 'data' must be a uint8 array of N x 3072 "
                              f"(3 x 32 x 32 pixels per row), found {desc}")
        try:
            y = np.asarray(y, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise error(name, f"{what}: '{self.labels_key}' must be a list of ints") from exc
        if y.shape[0] != x.shape[0]:
            raise error(name, f"{what}: {x.shape[0]} images but {y.shape[0]} labels")
        return x, y

    def _parse_meta(self, source):
        what, data = source
        name = type(self).__name__
        d = _str_keys(safe_load(data, what, name), what, name)
        if self.names_key not in d:
            raise error(name, f"{what}: the meta file needs the key '{self.names_key}', "
                              f"found {sorted(d)}")
        return [n.decode("utf-8") if isinstance(n, bytes) else str(n)
                for n in d[self.names_key]]


class CIFAR100(CIFAR10):
    """CIFAR-100: like :class:`CIFAR10` with 100 fine classes (``coarse=True``: the 20
    super-classes), from ``cifar-100-python/train``, ``test`` and ``meta``, or the archive
    ``cifar-100-python.tar.gz``."""

    base_folder = "cifar-100-python"
    filename = "cifar-100-python.tar.gz"
    resources = [("cifar-100-python.tar.gz",  # MD5 eb9058c3a382ffc7106e4002c42a8d85
                  "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7")]
    train_list = ["train"]
    test_list = ["test"]
    meta_file = "meta"

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False, base_url=None, coarse=False):
        self.coarse = coarse
        kind = "coarse" if coarse else "fine"
        self.labels_key, self.names_key = f"{kind}_labels", f"{kind}_label_names"
        super().__init__(root, train, transform, target_transform, download, base_url)
