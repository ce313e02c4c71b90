"""`ImageArrayDataset`: labelled images held in memory as one uint8 array."""

from __future__ import annotations

import numpy as np

from svertka._validate import error
from svertka.data.dataloader import default_collate
from svertka.data.dataset import Dataset
from svertka.data.transforms import batch_transform
from svertka.tensor import Tensor


class ImageArrayDataset(Dataset):
    """Images ``(N, H, W, C)`` uint8 in 0..255 and integer labels ``(N,)``, in memory.

    A sample is ``(image, label)``. Without ``transform`` the image is a float32 tensor
    ``(C, H, W)`` in [0, 1] (what ``transforms.ToTensor`` gives); with one, ``transform``
    receives the ``(H, W, C)`` uint8 array (svertka's stand-in for a PIL image) and its result
    is returned. The label is an int (or ``target_transform(label)``).

    Without transforms, ``get_batch`` gathers a whole batch with one indexing operation.
    """

    def __init__(self, images, labels, classes, transform=None, target_transform=None,
                 name="ImageArrayDataset"):
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.dtype != np.uint8:
            raise error(name, f"images must be a uint8 array (N, H, W[, C]), got "
                              f"{images.dtype} array of shape {images.shape}")
        if labels.shape != (images.shape[0],):
            raise error(name, f"labels must have shape ({images.shape[0]},), got "
                              f"{labels.shape}")
        self.data = images
        self.targets = labels.astype(np.int64)
        self.classes = list(classes)
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return self.data.shape[0]

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index):
        image = self.data[index]
        label = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        else:
            image = Tensor._make(image.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __getattr__(self, name):
        # get_batch exists only while the transform (if any) is known to apply to a whole
        # batch at once (ToTensor, Normalize) and no target transform is set
        if name == "get_batch" and self.__dict__.get("target_transform") is None:
            transform = self.__dict__.get("transform")
            if transform is None:
                return self._get_batch
            if batch_transform(transform) is not None:
                return self._get_transformed_batch
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _get_batch(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        x = self.data[idx].transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255)
        return [Tensor._make(x), Tensor._make(self.targets[idx])]

    def _get_transformed_batch(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        try:
            x = batch_transform(self.transform)(self.data[idx])
        except (TypeError, ValueError):
            # a transform that fails (e.g. Normalize with too many channels) fails as it
            # does per image, with the per-image message
            return default_collate([self[int(i)] for i in idx])
        return [x, Tensor._make(self.targets[idx])]

    def __repr__(self):
        n, h, w, c = self.data.shape
        return (f"{type(self).__name__}({n} images of {c}x{h}x{w}, {len(self.classes)} "
                f"classes)")
