"""`CIFAR10` and `CIFAR100` from the "python version" pickled batches, read safely.

The batches are pickles, and unpickling an arbitrary file can run arbitrary code or, through
shared references, describe unbounded work in a few bytes. They are read with
:func:`svertka.data.datasets._pickle.safe_load`, which first checks every opcode (the globals
a NumPy array, a NumPy scalar and Python 3's bytes need, in NumPy 1's and 2's spellings and
pickle protocols 0 to 5, each with the arguments NumPy writes; work bounded by the file's
size), then unpickles with the same globals only.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import tarfile
import zlib

import numpy as np

from svertka._validate import error
from svertka.data.datasets import _pickle
from svertka.data.datasets._pickle import RestrictedUnpickler, UnsafePickleError  # noqa: F401
from svertka.data.datasets.base import ImageArrayDataset
from svertka.data.datasets.download import ENV_VAR, download_resources

_CHUNK = 1 << 20
_DECOMPRESSORS = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


def safe_load(data, what, fn):
    """Unpickle ``data`` (bytes) with :func:`._pickle.safe_load` (bounded work, NumPy arrays
    and plain data only) and ``encoding='bytes'`` (the batches were written by Python 2);
    errors name ``what``."""
    try:
        return _pickle.safe_load(data, encoding="bytes")
    except UnsafePickleError as exc:
        raise error(fn, f"{what}: {exc}") from None
    except Exception as exc:  # any malformed pickle
        raise error(fn, f"{what}: not a readable CIFAR pickle ({type(exc).__name__}: "
                        f"{exc})") from exc


def _int_list(y, what, fn):
    """Labels as an int64 array: a list or tuple of ints, or a 1-D integer array."""
    if isinstance(y, np.ndarray):
        ok = y.ndim == 1 and y.dtype.kind in "iu"
    else:
        ok = isinstance(y, (list, tuple)) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in y)
    if not ok:
        raise error(fn, f"{what} must be a list of ints, found {_describe(y)}")
    try:
        return np.asarray(y, dtype=np.int64).reshape(-1)
    except OverflowError as exc:
        raise error(fn, f"{what} holds an int beyond 64 bits") from exc


def _describe(v):
    if isinstance(v, np.ndarray):
        return f"{v.dtype} array of shape {v.shape}"
    if isinstance(v, (list, tuple)):
        odd = next((type(i).__name__ for i in v if not isinstance(i, (int, np.integer)) or
                    isinstance(i, bool)), None)
        return f"a {type(v).__name__} with an item of type {odd}"
    return type(v).__name__


def _str_keys(d, what, fn):
    if not isinstance(d, dict):
        raise error(fn, f"{what}: expected a pickled dict, found {type(d).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in d.items()}


class CIFAR10(ImageArrayDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images of 32x32 in 10 classes.

    Reads the python batches ``cifar-10-batches-py/data_batch_1`` .. ``data_batch_5`` and
    ``test_batch`` (class names from ``batches.meta``) from ``root``, or, when that folder
    is absent, straight from the archive ``root/cifar-10-python.tar.gz`` (no extraction; the
    archive is read to its end, so that a corrupted one fails gzip's checksum).

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
        """``{member: (description, bytes)}`` read straight from the tar archive, which is
        read to its end so that its compression's checksum (gzip's CRC-32 and length) is
        verified: a corrupted archive is refused, not read as other data."""
        name = type(self).__name__
        wanted = {f"{self.base_folder}/{m}": m for m in members}
        out = {}
        try:
            with open(archive, "rb") as f:
                magic = f.read(6)
            opener = next((op for m, op in _DECOMPRESSORS if magic.startswith(m)), open)
            with opener(archive, "rb") as f:
                with tarfile.open(fileobj=f, mode="r|") as tar:
                    for info in tar:
                        member = wanted.get(info.name)
                        if member is not None and member not in out and info.isfile():
                            with tar.extractfile(info) as m:
                                out[member] = (f"{archive}:{info.name}", m.read())
                while f.read(_CHUNK):  # the rest of the stream, to its checksum
                    pass
        except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
            raise error(name, f"{archive}: not a readable tar archive ({exc})") from exc
        for key, member in wanted.items():
            if member not in out:
                raise error(name, f"{archive}: the archive has no member {key}")
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
        y = _int_list(y, f"{what}: '{self.labels_key}'", name)
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
        names = d[self.names_key]
        if isinstance(names, np.ndarray) and names.ndim == 1 and names.dtype.kind in "SU":
            names = names.tolist()
        bad = (f"{type(names).__name__}" if not isinstance(names, (list, tuple)) else
               next((f"an item of type {type(n).__name__}" for n in names
                     if not isinstance(n, (str, bytes))), None))
        if bad is None and not names:
            bad = "an empty list"
        if bad is not None:
            raise error(name, f"{what}: '{self.names_key}' must be a list of class names "
                              f"(strings), found {bad}")
        try:
            names = [n.decode("utf-8") if isinstance(n, bytes) else n for n in names]
        except UnicodeDecodeError as exc:
            raise error(name, f"{what}: '{self.names_key}' holds a name that is not UTF-8 "
                              f"({exc})") from exc
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise error(name, f"{what}: '{self.names_key}' names a class twice: "
                              f"{', '.join(map(repr, twice[:5]))}")
        return names


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
