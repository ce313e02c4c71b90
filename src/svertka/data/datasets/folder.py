"""`ImageFolder`: images sorted into one sub-folder per class, read lazily with Pillow."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from svertka._validate import _fmt, error, is_int, type_error
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
    # Image.open refuses images over twice MAX_IMAGE_PIXELS and only warns between one and
    # two times; both are refused here, before the pixels are decoded
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with open(path, "rb") as f:
            img = Image.open(f)
            w, h = img.size
            too_big = limit is not None and w * h > limit
            arr = None if too_big else np.asarray(img.convert(mode))
    except Exception as exc:  # Pillow raises several kinds for broken files
        raise error("ImageFolder", f"{path}: cannot read the image ({type(exc).__name__}: "
                                   f"{exc})") from exc
    if too_big:
        raise error("ImageFolder", f"{path}: image of {w}x{h} = {w * h} pixels is larger "
                                   f"than PIL.Image.MAX_IMAGE_PIXELS={limit} (a decompression "
                                   f"bomb?)")
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


def _check_class_to_idx(class_to_idx):
    """The classes listed by index, after checking that ``class_to_idx`` maps names to
    0..K-1, each index once."""
    if not isinstance(class_to_idx, Mapping):
        raise type_error("ImageFolder", f"class_to_idx must be a dict of class name -> index, "
                                        f"got {type(class_to_idx).__name__}")
    if not all(isinstance(k, str) for k in class_to_idx):
        raise type_error("ImageFolder", "class_to_idx must have str keys (class names)")
    values = list(class_to_idx.values())
    if not all(is_int(v) for v in values) or sorted(values) != list(range(len(values))):
        raise error("ImageFolder", f"class_to_idx must map the {len(values)} class names to "
                                   f"the indices 0..{len(values) - 1}, each once, got "
                                   f"{_fmt(dict(class_to_idx))[:200]}")
    classes = [""] * len(values)
    for name, i in class_to_idx.items():
        classes[int(i)] = name
    return classes


def _walk_once(top, root):
    """``[(folder, sorted file names)]`` under ``top`` in torchvision's order (sorted by
    folder path), following symbolic links but entering no directory twice (same device and
    inode), nor ``root`` or any folder above it, so that a link to an ancestor
    (``up -> ..``) neither loops nor reads the other classes' images under this one."""
    seen, found = set(), []
    path = os.path.realpath(root)
    while True:
        try:
            st = os.stat(path)
            seen.add((st.st_dev, st.st_ino))
        except OSError:
            pass
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for folder, dirs, files in os.walk(top, followlinks=True):
        try:
            st = os.stat(folder)
        except OSError:  # vanished or unreadable: os.walk skips such folders too
            dirs[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            dirs[:] = []
            continue
        seen.add(key)
        dirs.sort()  # which of two paths to one directory is kept must not depend on the OS
        found.append((folder, sorted(files)))
    return sorted(found)


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
        class_to_idx: the class name -> index mapping to use instead of the sorted
            sub-folders, e.g. ``train.class_to_idx`` for a test split, so that the same name
            gets the same index in both. Sub-folders of ``root`` named in it are read (a
            class without a sub-folder simply has no sample here); a sub-folder it does not
            name is a ``ValueError``. ``classes`` is then every class of the mapping.

    Symbolic links are followed, as torchvision does, but within a class no directory is
    entered twice, nor ``root`` or a folder above it (a departure from torchvision, whose
    walk loops through a link to an ancestor until the path grows too long). Images larger than
    ``PIL.Image.MAX_IMAGE_PIXELS`` are refused when read, even where Pillow only warns.

    Examples::

        >>> from svertka.data.datasets import ImageFolder
        >>> ImageFolder("/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: ImageFolder: cannot list /nonexistent ...
    """

    def __init__(self, root, transform=None, target_transform=None, extensions=IMG_EXTENSIONS,
                 loader=None, is_valid_file=None, mode="RGB", class_to_idx=None):
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
        found, _ = find_classes(self.root)
        if class_to_idx is None:
            self.classes, self.class_to_idx = found, {c: i for i, c in enumerate(found)}
        else:
            self.classes = _check_class_to_idx(class_to_idx)
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
            unknown = [c for c in found if c not in self.class_to_idx]
            if unknown:
                raise error("ImageFolder", f"{self.root}: the class folder(s) "
                                           f"{', '.join(map(repr, unknown))} are not among the "
                                           f"{len(self.classes)} classes of class_to_idx "
                                           f"({', '.join(map(repr, self.classes[:20]))}"
                                           f"{', ...' if len(self.classes) > 20 else ''})")
        self.samples = self._make_samples(is_valid_file, found)
        self.targets = [t for _, t in self.samples]
        self.imgs = self.samples

    def _make_samples(self, is_valid_file, classes):
        samples, empty = [], []
        for c in classes:
            found = 0
            for folder, files in _walk_once(os.path.join(self.root, c), self.root):
                for f in files:
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
