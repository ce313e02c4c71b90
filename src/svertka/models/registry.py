"""The model registry: ``list_models``, ``get_model``, ``model_info``, and ``register``."""

from __future__ import annotations

import inspect

_REGISTRY = {}


def register(name, input_size, description):
    """Decorator: register a builder under ``name`` with its default input size ``(C, H, W)``
    (or ``(C, L)``) and a one-line description."""
    def wrap(fn):
        old = _REGISTRY.get(name)
        if old is not None:
            # the same definition imported a second time (pytest may load a file under a
            # second module name) keeps the first; anything else under a taken name is an error
            same = (old["builder"] is not fn
                    and old["builder"].__module__.rsplit(".", 1)[-1]
                    == fn.__module__.rsplit(".", 1)[-1]
                    and old["builder"].__qualname__ == fn.__qualname__
                    and old["input_size"] == tuple(input_size)
                    and old["description"] == description)
            if same:
                return fn
            raise ValueError(f"register: a model named {name!r} is already registered")
        _REGISTRY[name] = {"builder": fn, "input_size": tuple(input_size),
                           "description": description}
        return fn
    return wrap


def list_models():
    """Names of the registered models, sorted."""
    return sorted(_REGISTRY)


def model_info(name):
    """``{'builder', 'input_size', 'description'}`` of a registered model."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"get_model: unknown model {name!r}; available: "
                         f"{', '.join(list_models())}") from None


def get_model(name, weights=None, **kwargs):
    """Build a registered model. ``in_channels`` is passed only to builders that take it; for
    the others it must equal the model's input channels. ``input_size`` (the sample shape
    ``(C, H, W)``, which the CLI always passes) goes only to builders that take it.

    ``weights`` loads pretrained weights (see :mod:`svertka.models.weights`): a name of the
    model's weights enum (``"IMAGENET1K_V1"``, ``"DEFAULT"``), a member of it
    (``ResNet18_Weights.IMAGENET1K_V1``), or the path of a ``.pth`` / ``.svk`` /
    ``.safetensors`` file holding a state dict (or a training checkpoint with one under
    ``model`` or ``state_dict``). With published weights ``num_classes`` is the number of
    their categories (1000), as in torchvision. Default: None (random initialisation).

    >>> from svertka import models
    >>> m = models.get_model("lenet5", num_classes=10)
    >>> sum(p.numel() for p in m.parameters())
    61706
    """
    info = model_info(name)
    from svertka.models import weights as W

    chosen = W.resolve(name, weights)
    if isinstance(chosen, W.Weights):
        n = len(chosen.meta["categories"])
        if kwargs.get("num_classes", n) != n:
            raise ValueError(f"get_model: the weights of {name!r} have {n} classes, got "
                             f"num_classes={kwargs['num_classes']}")
        kwargs["num_classes"] = n
        kwargs = {**chosen.builder_kwargs, **kwargs}
    builder = info["builder"]
    params = inspect.signature(builder).parameters
    if "input_size" in kwargs and "input_size" not in params:
        kwargs.pop("input_size")
    if "in_channels" in kwargs and "in_channels" not in params:
        c = kwargs.pop("in_channels")
        if c != info["input_size"][0]:
            raise ValueError(f"get_model: model {name!r} takes {info['input_size'][0]}-channel "
                             f"inputs, got in_channels={c}")
    model = builder(**kwargs)
    if chosen is not None:
        W.load_into(model, chosen, name)
    return model
