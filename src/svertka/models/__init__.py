"""svertka.models: the architectures of the lectures, each a function returning a Module.

``list_models()`` names them, ``get_model(name, **kwargs)`` builds one (the CLI's ``--model``).
"""

from svertka.models.lenet import LeNet5, lecture_cnn, lenet5  # noqa: F401
from svertka.models.registry import get_model, list_models, model_info, register  # noqa: F401
