"""svertka.optim: optimizers and learning-rate schedulers, as ``torch.optim``."""

from svertka.optim import lr_scheduler  # noqa: F401
from svertka.optim.adagrad import Adagrad
from svertka.optim.adam import Adam
from svertka.optim.adamw import AdamW
from svertka.optim.optimizer import Optimizer
from svertka.optim.rmsprop import RMSprop
from svertka.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
