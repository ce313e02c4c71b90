"""svertka.models: the architectures of the lectures, each a function returning a Module.

``list_models()`` names them, ``get_model(name, **kwargs)`` builds one (the CLI's ``--model``),
``model_info(name)`` gives its default input size and a one-line description.

The ImageNet models (``alexnet``, ``vgg*``, ``googlenet``, ``resnet18``-``152``,
``resnext50_32x4d``, ``mobilenet_v2``) have torchvision's module names and parameter shapes, so
a torchvision state_dict (as NumPy arrays) loads with ``strict=True``; their published
ImageNet weights load with ``get_model(name, weights="DEFAULT")`` (or an enum member such as
``ResNet18_Weights.IMAGENET1K_V1``, or a file path): see :mod:`svertka.models.weights`.
"""

from svertka.models.alexnet_vgg import (  # noqa: F401
    VGG,
    AlexNet,
    alexnet,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)
from svertka.models.darknet import Darknet19, YOLOv2, darknet19, yolo_v2  # noqa: F401
from svertka.models.googlenet import GoogLeNet, GoogLeNetOutputs, googlenet  # noqa: F401
from svertka.models.hog_softmax import HOGSoftmax, hog_softmax  # noqa: F401
from svertka.models.lenet import LeNet5, lecture_cnn, lenet5  # noqa: F401
from svertka.models.mobilenet import (  # noqa: F401
    MobileNetV1,
    MobileNetV2,
    mobilenet_v1,
    mobilenet_v2,
)
from svertka.models.nin import NiN, nin  # noqa: F401
from svertka.models.registry import get_model, list_models, model_info, register  # noqa: F401
from svertka.models.resnet import (  # noqa: F401
    CifarResNet,
    ResNet,
    resnet18,
    resnet20,
    resnet32,
    resnet34,
    resnet44,
    resnet50,
    resnet56,
    resnet101,
    resnet110,
    resnet152,
    resnext50_32x4d,
)
from svertka.models.sequence import GatedCNN, WaveNetStack, gated_cnn, wavenet_stack  # noqa: F401
from svertka.models.unet import UNet, unet  # noqa: F401
from svertka.models.weights import (  # noqa: F401
    AlexNet_Weights,
    GoogLeNet_Weights,
    ImageClassification,
    MobileNet_V2_Weights,
    ResNet18_Weights,
    ResNet34_Weights,
    ResNet50_Weights,
    ResNet101_Weights,
    ResNet152_Weights,
    ResNeXt50_32X4D_Weights,
    VGG11_BN_Weights,
    VGG11_Weights,
    VGG13_BN_Weights,
    VGG13_Weights,
    VGG16_BN_Weights,
    VGG16_Weights,
    VGG19_BN_Weights,
    VGG19_Weights,
    Weights,
    WeightsEnum,
    get_model_weights,
    get_weight,
    list_weights,
    load_state_dict_from_url,
)
