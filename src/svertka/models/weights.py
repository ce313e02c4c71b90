"""Pretrained weights for the zoo: torchvision's published ImageNet checkpoints, read without torch.

Each zoo model that torchvision publishes weights for has an enum with torchvision's name
(``ResNet18_Weights``, ``VGG16_BN_Weights``, ...) whose members (``IMAGENET1K_V1``, and
``DEFAULT``) carry the official ``url``, the preprocessing (``.transforms()``: resize the shorter
side, centre crop 224, ImageNet mean/std) and ``.meta`` (``categories``: the 1,000 ImageNet
class names). ``svertka.models.get_model("resnet18", weights="IMAGENET1K_V1")`` builds the model
and loads them; ``weights=`` also takes ``"DEFAULT"``, an enum member, or a path to a ``.pth``,
``.svk`` or ``.safetensors`` file.

Where the files go: ``$SVERTKA_HOME/hub/checkpoints/`` (default ``~/.cache/svertka``, or
``$XDG_CACHE_HOME/svertka``), named as torchvision names them (``resnet18-f37072fd.pth``).
torch's own cache (``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch``) is looked in
too, so the files a torchvision user already has are used as they are. A missing file is
downloaded (streamed into a temporary file and renamed into place only when it checks out, by
:func:`svertka.data.datasets.download.download_url`); ``$SVERTKA_WEIGHTS_URL`` replaces the
server (a URL prefix to which the file name is appended, ``file://`` included). Without network
access the :class:`DownloadError` says which file to put where.

Integrity: torchvision's file names carry the first hex digits of the file's SHA-256
(``resnet18-f37072fd.pth``); a download is checked against that prefix, which is exactly the
check torch's ``load_state_dict_from_url(check_hash=True)`` makes. Where a full SHA-256 is known
(``Weights(sha256=...)`` or ``load_state_dict_from_url(sha256=...)``) the file is checked in
full, a cached one included. As in torch, a file already in a cache is not re-hashed against
the prefix on every load.

The class names (``imagenet_classes.txt``) are the list torchvision's weights use (its
``_IMAGENET_CATEGORIES``), taken from the ``imagenet_classes.txt`` of the pytorch/hub
repository; like torchvision's, it names two classes ``crane`` (134, the bird; 517, the machine)
and two ``maillot`` (638, 639).

Examples::

    >>> from svertka.models import ResNet18_Weights
    >>> w = ResNet18_Weights.DEFAULT
    >>> w.url
    'https://download.pytorch.org/models/resnet18-f37072fd.pth'
    >>> w.file_name, w.hash_prefix
    ('resnet18-f37072fd.pth', 'f37072fd')
    >>> len(w.meta["categories"]), w.meta["categories"][281]
    (1000, 'tabby')
    >>> w.transforms()
    ImageClassification(crop_size=224, resize_size=256, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), interpolation='bilinear')
"""  # noqa: E501

from __future__ import annotations

import dataclasses
import enum
import functools
import os
import re
from pathlib import Path

import numpy as np

from svertka.data.datasets.download import DownloadError, download_url, file_digest

__all__ = [
    "Weights", "WeightsEnum", "ImageClassification", "get_model_weights", "get_weight",
    "list_weights", "load_state_dict_from_url", "checkpoint_dirs", "imagenet_categories",
    "ENV_HOME", "ENV_URL",
]

ENV_HOME = "SVERTKA_HOME"
ENV_URL = "SVERTKA_WEIGHTS_URL"
_DOWNLOADS = "https://download.pytorch.org/models/"
# torch.hub's HASH_REGEX: the hex digits after a '-' and before the extension
_HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@functools.lru_cache(maxsize=1)
def imagenet_categories():
    """The 1,000 ImageNet-1k class names in the order of the models' outputs (a tuple)."""
    path = Path(__file__).with_name("imagenet_classes.txt")
    return tuple(path.read_text(encoding="utf-8").splitlines())


# ---------------------------------------------------------------------------- transforms
class ImageClassification:
    """The evaluation preprocessing of torchvision's ImageNet weights
    (``torchvision.transforms._presets.ImageClassification``): resize the shorter side to
    ``resize_size`` (bilinear), crop the centre ``crop_size`` square, scale to [0, 1] and
    normalise with ``mean``/``std``.

    Takes a PIL image, or a ``(H, W, C)`` / ``(H, W)`` uint8 array (svertka's datasets' images);
    returns a float32 tensor ``(3, crop_size, crop_size)``. Grey images are repeated to three
    channels and RGBA loses its alpha. With Pillow installed the resize is Pillow's
    (antialiased, the one torchvision uses on PIL images); without it,
    :func:`svertka.data.transforms.resize` (no antialiasing: strong downscaling aliases).

    Examples::

        >>> import numpy as np
        >>> t = ImageClassification(crop_size=224)
        >>> t(np.zeros((300, 400, 3), dtype=np.uint8)).shape
        svertka.Size([3, 224, 224])
    """

    def __init__(self, crop_size, resize_size=256, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                 interpolation="bilinear"):
        self.crop_size, self.resize_size = int(crop_size), int(resize_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.interpolation = interpolation

    def __call__(self, img):
        from svertka.data import transforms as T

        arr = self._resized(img)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
            raise ValueError(f"ImageClassification: expected an image (H, W), (H, W, 1), "
                             f"(H, W, 3) or (H, W, 4), got shape {arr.shape}")
        arr = np.ascontiguousarray(np.broadcast_to(arr[:, :, :3], arr.shape[:2] + (3,)))
        x = T.to_tensor(T.center_crop(arr, self.crop_size))
        return T.normalize(x, self.mean, self.std)

    def _resized(self, img):
        try:
            from PIL import Image
        except ImportError:
            Image = None
        if Image is not None:
            if isinstance(img, np.ndarray):
                if img.dtype != np.uint8:
                    raise TypeError(f"ImageClassification: expected a uint8 array, got "
                                    f"{img.dtype}")
                arr = img[:, :, 0] if img.ndim == 3 and img.shape[2] == 1 else img
                img = Image.fromarray(arr)
            if isinstance(img, Image.Image):
                img = img.convert("RGB")
                w, h = img.size
                short, long = (w, h) if w <= h else (h, w)
                new_short, new_long = self.resize_size, int(self.resize_size * long / short)
                size = (new_short, new_long) if w <= h else (new_long, new_short)
                if size != img.size:
                    img = img.resize(size, Image.BILINEAR)
                return np.asarray(img)
        if not isinstance(img, np.ndarray):
            raise TypeError(f"ImageClassification: expected a PIL image or a uint8 array "
                            f"(H, W[, C]), got {type(img).__name__}")
        from svertka.data import transforms as T

        return T.resize(img, self.resize_size, "bilinear")

    def __repr__(self):
        return (f"{type(self).__name__}(crop_size={self.crop_size}, resize_size="
                f"{self.resize_size}, mean={self.mean}, std={self.std}, interpolation="
                f"{self.interpolation!r})")


# ---------------------------------------------------------------------------- the files
def _home():
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path("~/.cache").expanduser()) / "svertka"


def _torch_home():
    env = os.environ.get("TORCH_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path("~/.cache").expanduser()) / "torch"


def checkpoint_dirs():
    """``[svertka's checkpoint folder, torch's]``: ``$SVERTKA_HOME/hub/checkpoints`` (where
    downloads go) and ``$TORCH_HOME/hub/checkpoints`` (read only)."""
    return [_home() / "hub" / "checkpoints", _torch_home() / "hub" / "checkpoints"]


def _hash_prefix(file_name):
    m = _HASH_REGEX.search(file_name)
    return m.group(1) if m else None


def _check_full(path, sha256):
    got = file_digest(path)
    if got != sha256.lower():
        raise ValueError(f"load_state_dict_from_url: {path}: sha256 checksum mismatch, "
                         f"expected {sha256.lower()}, got {got} (delete the file to download "
                         f"it again)")


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=False,
                             check_hash=True, file_name=None, sha256=None):
    """torch.hub's ``load_state_dict_from_url`` without torch: the checkpoint at ``url``,
    from the cache when it is there, else downloaded and verified; read by
    :func:`svertka.load` (no code from the file runs).

    Args:
        url: where the file is published (its last part is the file name).
        model_dir: the folder to keep it in. Default: ``$SVERTKA_HOME/hub/checkpoints``, and
            torch's ``$TORCH_HOME/hub/checkpoints`` is looked in as well.
        map_location, progress: accepted for torch's signature (CPU only; no progress bar).
        check_hash: verify a download against the SHA-256 prefix in the file name
            (``name-<hex>.ext``), as torch does.
        file_name: the name to keep it under. Default: the URL's last part.
        sha256: the full SHA-256, when known: checked on every load, cached files included.

    Raises:
        DownloadError: not cached, and the download failed (the message says which file to
            place in which folder).
        ValueError: the file's digest differs, or it is not a checkpoint.
    """
    file_name = file_name or os.path.basename(url.rstrip("/").split("?")[0])
    folders = [Path(model_dir)] if model_dir is not None else checkpoint_dirs()
    for folder in folders:
        path = folder / file_name
        if path.is_file():
            if sha256:
                _check_full(path, sha256)
            from svertka.serialization import load

            return load(path, map_location=map_location)
    prefix = _hash_prefix(file_name) if check_hash else None
    mirror = os.environ.get(ENV_URL)
    source = (mirror.rstrip("/") + "/" + file_name) if mirror else url
    try:
        path = download_url(source, folders[0], file_name, sha256=sha256, hash_prefix=prefix)
    except DownloadError as exc:
        cause = exc.__cause__ or exc
        places = f"{folders[0]}" + (f" (or torch's {folders[1]})" if len(folders) > 1 else "")
        raise DownloadError(
            f"load_state_dict_from_url: could not download {source} "
            f"({getattr(cause, 'reason', None) or cause}). Without network access, download "
            f"{url} elsewhere and place it as {file_name} in {places}, or point {ENV_URL} "
            f"at a folder or server that has it") from exc
    from svertka.serialization import load

    return load(path, map_location=map_location)


# ---------------------------------------------------------------------------- the enums
@dataclasses.dataclass(eq=False)
class Weights:
    """One set of pretrained weights: where it is published and how to use it.

    Attributes:
        url: the official download address; its last part is the file name.
        transforms: a callable returning the preprocessing (``weights.transforms()``).
        meta: ``categories`` (the class names) and what else is known of the weights.
        model: the zoo name of the architecture (``"resnet18"``).
        sha256: the full SHA-256 of the file when known (else the file name's prefix is the
            check).
        builder_kwargs: arguments of the model builder that these weights need (GoogLeNet's
            ``transform_input=True``), used unless the caller gives them.
    """

    url: str
    transforms: object
    meta: dict = dataclasses.field(repr=False)
    model: str = ""
    sha256: str = None
    builder_kwargs: dict = dataclasses.field(default_factory=dict)

    @property
    def file_name(self):
        return os.path.basename(self.url.rstrip("/").split("?")[0])

    @property
    def hash_prefix(self):
        return _hash_prefix(self.file_name)

    def get_state_dict(self, progress=False, check_hash=True):
        """Download (or read from the cache) and return the state dict, checking its hash prefix."""
        return load_state_dict_from_url(self.url, progress=progress, check_hash=check_hash,
                                        sha256=self.sha256)


class WeightsEnum(enum.Enum):
    """The base of the ``<Model>_Weights`` enums (torchvision's ``WeightsEnum``): each member's
    value is a :class:`Weights`, whose fields read as the member's attributes
    (``ResNet18_Weights.IMAGENET1K_V1.url``)."""

    @classmethod
    def verify(cls, obj):
        """``None``, a member of this enum, or its name as a string (``"IMAGENET1K_V1"``,
        ``"DEFAULT"``, ``"ResNet18_Weights.IMAGENET1K_V1"``) -> the member (or None)."""
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            name = obj.removeprefix(cls.__name__ + ".")
            if name in cls.__members__:
                return cls.__members__[name]
            raise ValueError(f"{cls.__name__}: no weights named {obj!r}; available: "
                             f"{', '.join(cls.__members__)}")
        raise TypeError(f"{cls.__name__}: expected a member of {cls.__name__} or its name, "
                        f"got {type(obj).__name__}")

    def get_state_dict(self, progress=False, check_hash=True):
        """The state dict of this member's weights (see :meth:`Weights.get_state_dict`)."""
        return self.value.get_state_dict(progress=progress, check_hash=check_hash)

    def __repr__(self):
        return f"{type(self).__name__}.{self._name_}"

    def __reduce_ex__(self, protocol):
        # by name: Weights compare by identity, so a copy of the value would match no member
        return getattr, (type(self), self._name_)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.value, name)


def _entry(model, file_name, resize_size=256, **builder_kwargs):
    return Weights(url=_DOWNLOADS + file_name,
                   transforms=functools.partial(ImageClassification, crop_size=224,
                                                resize_size=resize_size),
                   meta={"categories": imagenet_categories(), "min_size": (1, 1),
                         "recipe": "torchvision"},
                   model=model, builder_kwargs=builder_kwargs)


# (zoo name, enum name, {member: (file name, resize size)}, default member): the torchvision
# 0.13+ weights of the zoo's architectures. V2 are the "new training recipe" weights (resize 232).
_TABLE = [
    ("alexnet", "AlexNet_Weights", {"IMAGENET1K_V1": ("alexnet-owt-7be5be79.pth", 256)}, 1),
    ("vgg11", "VGG11_Weights", {"IMAGENET1K_V1": ("vgg11-8a719046.pth", 256)}, 1),
    ("vgg11_bn", "VGG11_BN_Weights", {"IMAGENET1K_V1": ("vgg11_bn-6002323d.pth", 256)}, 1),
    ("vgg13", "VGG13_Weights", {"IMAGENET1K_V1": ("vgg13-19584684.pth", 256)}, 1),
    ("vgg13_bn", "VGG13_BN_Weights", {"IMAGENET1K_V1": ("vgg13_bn-abd245e5.pth", 256)}, 1),
    ("vgg16", "VGG16_Weights", {"IMAGENET1K_V1": ("vgg16-397923af.pth", 256)}, 1),
    ("vgg16_bn", "VGG16_BN_Weights", {"IMAGENET1K_V1": ("vgg16_bn-6c64b313.pth", 256)}, 1),
    ("vgg19", "VGG19_Weights", {"IMAGENET1K_V1": ("vgg19-dcbb9e9d.pth", 256)}, 1),
    ("vgg19_bn", "VGG19_BN_Weights", {"IMAGENET1K_V1": ("vgg19_bn-c79401a0.pth", 256)}, 1),
    ("googlenet", "GoogLeNet_Weights", {"IMAGENET1K_V1": ("googlenet-1378be20.pth", 256)}, 1),
    ("resnet18", "ResNet18_Weights", {"IMAGENET1K_V1": ("resnet18-f37072fd.pth", 256)}, 1),
    ("resnet34", "ResNet34_Weights", {"IMAGENET1K_V1": ("resnet34-b627a593.pth", 256)}, 1),
    ("resnet50", "ResNet50_Weights", {"IMAGENET1K_V1": ("resnet50-0676ba61.pth", 256),
                                      "IMAGENET1K_V2": ("resnet50-11ad3fa6.pth", 232)}, 2),
    ("resnet101", "ResNet101_Weights", {"IMAGENET1K_V1": ("resnet101-63fe2227.pth", 256),
                                        "IMAGENET1K_V2": ("resnet101-cd907fc2.pth", 232)}, 2),
    ("resnet152", "ResNet152_Weights", {"IMAGENET1K_V1": ("resnet152-394f9c45.pth", 256),
                                        "IMAGENET1K_V2": ("resnet152-f82ba261.pth", 232)}, 2),
    ("resnext50_32x4d", "ResNeXt50_32X4D_Weights",
     {"IMAGENET1K_V1": ("resnext50_32x4d-7cdf4587.pth", 256),
      "IMAGENET1K_V2": ("resnext50_32x4d-1a0047aa.pth", 232)}, 2),
    ("mobilenet_v2", "MobileNet_V2_Weights", {"IMAGENET1K_V1": ("mobilenet_v2-b0353104.pth", 256),
                                              "IMAGENET1K_V2": ("mobilenet_v2-7ebf99e0.pth", 232)},
     2),
]
# GoogLeNet's weights were ported from Google's, which expect inputs scaled to [-1, 1]:
# torchvision builds it with transform_input=True for them.
_BUILDER_KWARGS = {"googlenet": {"transform_input": True}}

_BY_MODEL = {}
for _model, _enum_name, _members, _default in _TABLE:
    _values = {k: _entry(_model, f, r, **_BUILDER_KWARGS.get(_model, {}))
               for k, (f, r) in _members.items()}
    _values["DEFAULT"] = _values[f"IMAGENET1K_V{_default}"]
    _cls = WeightsEnum(_enum_name, _values, module=__name__, qualname=_enum_name)
    _cls.__doc__ = (f"torchvision's pretrained weights of ``{_model}``: "
                    f"{', '.join(_members)}; ``DEFAULT`` is IMAGENET1K_V{_default}.")
    globals()[_enum_name] = _cls
    _BY_MODEL[_model] = _cls
    __all__.append(_enum_name)
del _model, _enum_name, _members, _default, _values, _cls


def get_model_weights(name):
    """The weights enum of a zoo model (``get_model_weights("resnet18") is ResNet18_Weights``).
    Raises ValueError for a model without published weights."""
    try:
        return _BY_MODEL[name]
    except KeyError:
        raise ValueError(f"get_model_weights: no pretrained weights are published for model "
                         f"{name!r}; models with weights: {', '.join(sorted(_BY_MODEL))}"
                         ) from None


def get_weight(name):
    """A member by its full name: ``get_weight("ResNet50_Weights.IMAGENET1K_V2")``."""
    enum_name, _, member = name.partition(".")
    for cls in _BY_MODEL.values():
        if cls.__name__ == enum_name:
            return cls.verify(member)
    raise ValueError(f"get_weight: unknown weights {name!r} (expected '<Model>_Weights."
                     f"<NAME>', e.g. 'ResNet18_Weights.IMAGENET1K_V1')")


def list_weights():
    """``{zoo name: [member names]}`` of every model with pretrained weights."""
    return {m: list(cls.__members__) for m, cls in sorted(_BY_MODEL.items())}


# ---------------------------------------------------------------------------- into a model
_WEIGHT_FILES = (".pth", ".pt", ".svk", ".safetensors", ".bin", ".ckpt")


def resolve(name, weights):
    """``weights=`` of ``get_model`` -> a :class:`Weights`, a path, or None."""
    if weights is None:
        return None
    if isinstance(weights, WeightsEnum):
        weights = weights.value
    if isinstance(weights, Weights):
        if weights.model and weights.model != name:
            raise ValueError(f"get_model: weights for model {weights.model!r} given to model "
                             f"{name!r}")
        return weights
    if isinstance(weights, os.PathLike):
        return os.fspath(weights)
    if not isinstance(weights, str):
        raise TypeError(f"get_model: weights must be None, a weights name, a Weights enum "
                        f"member or a path, got {type(weights).__name__}")
    cls = _BY_MODEL.get(name)
    member = weights.removeprefix(cls.__name__ + ".") if cls is not None else weights
    if cls is not None and member in cls.__members__:
        return cls.__members__[member].value
    if os.path.exists(weights) or weights.lower().endswith(_WEIGHT_FILES):
        return weights
    names = (f"its weights are {', '.join(cls.__members__)}" if cls is not None else
             "it has no published weights")
    raise ValueError(f"get_model: weights={weights!r} is neither a weights name of model "
                     f"{name!r} ({names}) nor an existing file")


def _state_dict_of(obj, path):
    """The state dict in a loaded file: the file's dict itself, or one held under ``model``,
    ``state_dict`` or ``model_state_dict`` (training checkpoints)."""
    if isinstance(obj, dict):
        from svertka._tensor_base import TensorBase

        if obj and all(isinstance(v, TensorBase) for v in obj.values()):
            return obj
        for key in ("model", "state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                return _state_dict_of(obj[key], path)
    raise ValueError(f"get_model: {path}: holds no state dict (a dict of tensors, or one "
                     f"under 'model' or 'state_dict'), got {type(obj).__name__}")


def load_into(model, weights, name):
    """Load ``weights`` (a :class:`Weights` or a path) into ``model``; returns ``model``."""
    if isinstance(weights, Weights):
        state, where = weights.get_state_dict(), weights.file_name
    else:
        from svertka.serialization import load

        where = weights
        state = _state_dict_of(load(weights), weights)
    if getattr(model, "aux1", "absent") is None:
        # torchvision's GoogLeNet checkpoints hold the auxiliary heads (not trained), which the
        # model built without aux_logits drops, as torchvision's builder does
        state = {k: v for k, v in state.items() if not k.startswith(("aux1.", "aux2."))}
    try:
        model.load_state_dict(state)
    except ValueError as exc:
        raise ValueError(f"get_model: {where} does not fit model {name!r}: {exc}") from None
    return model
