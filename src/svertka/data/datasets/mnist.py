"""`MNIST` and `FashionMNIST` from their IDX files (gzipped or not), as torchvision lays
them out."""

from __future__ import annotations

import gzip
import math
import os
import zlib

import numpy as np

from svertka._validate import error
from svertka.data.datasets.base import ImageArrayDataset
from svertka.data.datasets.download import ENV_VAR, download_resources

IDX_IMAGES = 0x00000803  # unsigned bytes, 3 dimensions (N, rows, cols)
IDX_LABELS = 0x00000801  # unsigned bytes, 1 dimension (N,)


_CHUNK = 1 << 20


def _open(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _read_errors(path, fn, exc):
    return error(fn, f"{path}: cannot be read as {'gzip' if path.endswith('.gz') else 'a'} "
                     f"file ({exc})")


def _read_header(f, path, magic, fn):
    """The shape declared by the IDX header at the start of the open file ``f``."""
    what = {IDX_IMAGES: "an IDX image file", IDX_LABELS: "an IDX label file"}[magic]
    head = f.read(4)
    if len(head) < 4:
        raise error(fn, f"{path}: file of {len(head)} bytes is too short for an IDX header")
    found = int.from_bytes(head, "big")
    if found != magic:
        raise error(fn, f"{path}: bad magic number 0x{found:08X}, expected 0x{magic:08X} "
                        f"({what})")
    ndim = magic & 0xFF
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise error(fn, f"{path}: file of {4 + len(dims)} bytes is too short for the "
                        f"{4 + 4 * ndim}-byte IDX header")
    return tuple(int.from_bytes(dims[4 * i:4 * i + 4], "big") for i in range(ndim))


def read_idx(path, magic, fn="read_idx"):
    """The array stored in the IDX file ``path`` (``.gz`` is decompressed).

    ``magic`` is the expected magic number: ``0x00000803`` for an image file (uint8,
    ``(N, rows, cols)``), ``0x00000801`` for a label file (uint8, ``(N,)``). The header's
    sizes are big-endian; the payload must hold exactly their product of bytes. The header
    is checked before the payload is read, and the payload is read straight into the
    array's buffer: a plain file's size is compared with the header first, a gzip stream is
    read at most one chunk past the declared size (a gzip bomb cannot exhaust memory) and to
    its end, so that its CRC is verified.
    """
    unit = "pixels" if magic == IDX_IMAGES else "labels"
    try:
        with _open(path) as f:
            shape = _read_header(f, path, magic, fn)
            header = 4 + 4 * len(shape)
            expected = math.prod(shape)  # Python ints: no overflow
            dims = " x ".join(map(str, shape))
            if path.endswith(".gz"):
                data = bytearray()
                while len(data) <= expected:
                    chunk = f.read(min(_CHUNK, expected + 1 - len(data)))
                    if not chunk:
                        break
                    data += chunk
                if len(data) > expected:
                    extra, limit = 1, 64 * _CHUNK  # count what follows, up to a limit
                    while extra <= limit and (chunk := f.read(_CHUNK)):
                        extra += len(chunk)
                    found = (f"{expected + extra}" if extra <= limit else
                             f"more than {expected + limit}")
                    raise error(fn, f"{path}: expected {expected} bytes of {unit} ({dims}), "
                                    f"found {found}")
            else:
                size = os.fstat(f.fileno()).st_size - header
                if size != expected:
                    raise error(fn, f"{path}: expected {expected} bytes of {unit} ({dims}), "
                                    f"found {size}")
                # a bytearray makes the array writable, as torchvision's tensors are
                data = bytearray(expected)
                if f.readinto(data) != expected:  # the file shrank after the size check
                    raise error(fn, f"{path}: the file changed while it was read")
    except (OSError, EOFError, zlib.error) as exc:
        raise _read_errors(path, fn, exc) from exc
    if len(data) != expected:
        raise error(fn, f"{path}: expected {expected} bytes of {unit} ({dims}), found "
                        f"{len(data)}")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _peek_shape(path, magic):
    """The shape in the IDX header of ``path``, or None when it cannot be read."""
    try:
        with _open(path) as f:
            return _read_header(f, path, magic, "")
    except (OSError, EOFError, zlib.error, ValueError):
        return None


class MNIST(ImageArrayDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28, grey.

    Reads the four IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped ``.gz`` or not)
    from ``root/MNIST/raw/`` (torchvision's layout, so an existing torchvision download
    works) or directly from ``root/``, into memory.

    Args:
        root: the data folder.
        train: the training set (True) or the test set (False).
        transform: applied to each ``(28, 28, 1)`` uint8 image (without it a sample is a
            ``(1, 28, 28)`` float32 tensor in [0, 1]).
        target_transform: applied to each label.
        download: fetch missing files (the ``.gz`` files, MD5-verified, as published)
            into ``root/MNIST/raw/`` from ``mirrors``, or from ``base_url`` /
            ``$SVERTKA_DATASETS_URL`` when set.
        base_url: a mirror (URL prefix) to download from instead of ``mirrors``.

    Examples::

        >>> from svertka.data.datasets import MNIST
        >>> MNIST("/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: MNIST: missing train-images-idx3-ubyte, ...
    """

    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources = [
        ("train-images-idx3-ubyte.gz",
         "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        ("train-labels-idx1-ubyte.gz",
         "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        ("t10k-images-idx3-ubyte.gz",
         "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        ("t10k-labels-idx1-ubyte.gz",
         "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False, base_url=None):
        name = type(self).__name__
        self.root = os.fspath(os.path.expanduser(root))
        self.train = train
        prefix = "train" if train else "t10k"
        wanted = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
        paths = self._find(wanted)
        if None in paths and download:
            missing = [w for w, p in zip(wanted, paths) if p is None]
            resources = [r for r in self.resources if r[0][:-3] in missing]
            download_resources(name, resources, self.mirrors, self.raw_folder, base_url)
            paths = self._find(wanted)
        if None in paths:
            missing = [w for w, p in zip(wanted, paths) if p is None]
            raise FileNotFoundError(
                f"{name}: missing {', '.join(missing)} (gzipped .gz or not): place the files "
                f"in {self.raw_folder} or {self.root}, or pass download=True to fetch them "
                f"(from {self.mirrors[0]}, or the mirror in ${ENV_VAR})")
        images = read_idx(paths[0], IDX_IMAGES, name)
        if images.size == 0:
            raise error(name, f"{paths[0]}: holds no images ({images.shape[0]} images of "
                              f"{images.shape[1]}x{images.shape[2]} pixels)")
        labels = read_idx(paths[1], IDX_LABELS, name)
        if images.shape[0] != labels.shape[0]:
            raise error(name, f"{paths[0]} holds {images.shape[0]} images but {paths[1]} "
                              f"holds {labels.shape[0]} labels")
        if labels.size and labels.max() >= len(self.classes):
            raise error(name, f"{paths[1]}: label {int(labels.max())} is out of range for "
                              f"{len(self.classes)} classes")
        other = self._find([f"{'t10k' if train else 'train'}-images-idx3-ubyte"])[0]
        other_shape = None if other is None else _peek_shape(other, IDX_IMAGES)
        if other_shape is not None and other_shape[1:] != images.shape[1:]:
            raise error(name, f"{paths[0]} holds images of {images.shape[1]}x"
                              f"{images.shape[2]} pixels but {other} holds "
                              f"{other_shape[1]}x{other_shape[2]} (the train and test "
                              f"splits must have one image size)")
        super().__init__(images, labels, self.classes, transform, target_transform, name=name)

    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    def _find(self, names):
        """For each base name, the first existing file among raw/ and root, plain or .gz."""
        found = []
        for n in names:
            candidates = [os.path.join(d, n + ext) for d in (self.raw_folder, self.root)
                          for ext in ("", ".gz")]
            found.append(next((c for c in candidates if os.path.isfile(c)), None))
        return found


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, in MNIST's IDX
    format; files are looked up in ``root/FashionMNIST/raw/`` or ``root/``. Arguments as
    :class:`MNIST`."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz",
         "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        ("train-labels-idx1-ubyte.gz",
         "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        ("t10k-images-idx3-ubyte.gz",
         "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        ("t10k-labels-idx1-ubyte.gz",
         "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
