"""`ImageFolder`: images sorted into one sub-folder per class, read lazily with Pillow."""

from __future__ import annotations

import os

import numpy as np

from svertka._validate import _fmt, error, type_error
from svertka.data.dataset import Dataset
from svertka.tensor import Tensor

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _pil_image():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError('ImageFolder needs Pillow to read images: pip install '
                          '"svertka[images]" (or pip install Pillow)') from None
    return Image


def pil_loader(path, mode="RGB"):
    """Read the image at ``path`` as an ``(H, W, C)`` uint8 array in ``mode`` (``'RGB'``:
    3 channels, ``'L'``: 1 grey channel)."""
    Image = _pil_image()
    try:
        with open(path, "rb") as f:
            img = Image.open(f)
            arr = np.asarray(img.convert(mode))
    except Exception as exc:  # Pillow raises several kinds for broken files
        raise error("ImageFolder", f"{path}: cannot read the image ({type(exc).__name__}: "
                                   f"{exc})") from exc
    return arr[:, :, None] if arr.ndim == 2 else arr


def find_classes(directory):
    """``(classes, class_to_idx)``: the sorted sub-folder names of ``directory``."""
    try:
        classes = sorted(e.name for e in os.scandir(directory) if e.is_dir())
    except OSError as exc:
        raise FileNotFoundError(f"ImageFolder: cannot list {directory} ({exc})") from exc
    if not classes:
        raise FileNotFoundError(f"ImageFolder: couldn't find any class folder in {directory} "
                                f"(expected one sub-folder of images per class)")
    return classes, {c: i for i, c in enumerate(classes)}


class ImageFolder(Dataset):
    """A dataset of image files laid out as ``root/<class>/**/<image>``, as torchvision's.

    Class names are the sorted sub-folder names (``classes``, ``class_to_idx``); ``samples``
    lists ``(path, class_index)`` and ``targets`` the class indices. Images are read when
    indexed (Pillow, the optional extra ``svertka[images]``), never all at once.

    A sample is ``(image, target)``: without ``transform`` the image is a float32 ``(C, H,
    W)`` tensor in [0, 1]; with one, ``transform`` receives the ``(H, W, C)`` uint8 array.

    Args:
        root: the folder holding one sub-folder per class.
        transform, target_transform: applied to each image array / class index.
        extensions: file name endings to accept (case-insensitive).
        loader: ``loader(path) -> (H, W, C) uint8 array`` (default: Pillow).
        is_valid_file: ``f(path) -> bool`` to choose files instead of ``extensions``.
        mode: ``'RGB'`` (default) or ``'L'`` (grey, one channel) for the default loader.

    Examples::

        >>> from svertka.data.datasets import ImageFolder
        >>> ImageFolder("/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: ImageFolder: cannot list /nonexistent ...
    """

    def __init__(self, root, transform=None, target_transform=None, extensions=IMG_EXTENSIONS,
                 loader=None, is_valid_file=None, mode="RGB"):
        if mode not in ("RGB", "L"):
            raise error("ImageFolder", f"mode must be one of 'RGB', 'L', got mode={_fmt(mode)}")
        if loader is None:
            _pil_image()  # fail early, with the install hint
        elif not callable(loader):
            raise type_error("ImageFolder", f"loader must be callable, got "
                                            f"{type(loader).__name__}")
        self.root = os.fspath(os.path.expanduser(root))
        self.transform, self.target_transform = transform, target_transform
        self.mode = mode
        self.loader = loader
        if isinstance(extensions, str):
            extensions = (extensions,)
        self.extensions = None if is_valid_file is not None else tuple(
            e.lower() for e in extensions)
        self.classes, self.class_to_idx = find_classes(self.root)
        self.samples = self._make_samples(is_valid_file)
        self.targets = [t for _, t in self.samples]
        self.imgs = self.samples

    def _make_samples(self, is_valid_file):
        samples, empty = [], []
        for c in self.classes:
            found = 0
            for folder, _dirs, files in sorted(os.walk(os.path.join(self.root, c),
                                                      followlinks=True)):
                for f in sorted(files):
                    path = os.path.join(folder, f)
                    ok = is_valid_file(path) if is_valid_file is not None else \
                        f.lower().endswith(self.extensions)
                    if ok:
                        samples.append((path, self.class_to_idx[c]))
                        found += 1
            if not found:
                empty.append(c)
        if empty:
            what = ("accepted by is_valid_file" if is_valid_file is not None else
                    f"with the extensions {', '.join(self.extensions)}")
            raise FileNotFoundError(f"ImageFolder: found no valid file for the classes "
                                    f"{', '.join(empty)} in {self.root} (files {what})")
        return samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        image = pil_loader(path, self.mode) if self.loader is None else self.loader(path)
        if self.transform is not None:
            image = self.transform(image)
        else:
            image = Tensor._make(np.ascontiguousarray(image.transpose(2, 0, 1))
                                 .astype(np.float32) / np.float32(255))
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self):
        return (f"{type(self).__name__}({len(self)} images in {len(self.classes)} classes "
                f"at {self.root})")
