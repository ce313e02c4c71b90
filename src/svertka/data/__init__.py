"""svertka.data: datasets, samplers and the DataLoader (torch.utils.data's API)."""

from svertka.data import datasets, transforms  # noqa: F401
from svertka.data.dataloader import DataLoader, default_collate  # noqa: F401
from svertka.data.dataset import (  # noqa: F401
    ConcatDataset,
    Dataset,
    Subset,
    TensorDataset,
    random_split,
)
from svertka.data.sampler import (  # noqa: F401
    BatchSampler,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
