"""``torch.utils.data``'s names, from :mod:`svertka.data`, so that
``from svertka.utils.data import DataLoader, Dataset`` works like torch's import."""

from svertka.data import (  # noqa: F401
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    random_split,
)
