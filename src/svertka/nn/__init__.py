"""svertka.nn: layers (modules), their functional form, initialisation and utilities.

``import svertka.nn as nn`` and ``import svertka.nn.functional as F``, as with torch.
"""

from svertka.nn import functional, init, parallel, utils  # noqa: F401
from svertka.nn.modules import *  # noqa: F401,F403
from svertka.nn.parallel import SyncBatchNorm  # noqa: F401
from svertka.nn.parameter import Buffer, Parameter  # noqa: F401
