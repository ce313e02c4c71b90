"""svertka.nn.functional: the math of the layers, with torch.nn.functional's names.

Each function validates its arguments (errors name the function and the argument), then calls
the differentiable op in ``svertka.ops``. Import it as ``import svertka.nn.functional as F``.

The submodules whose name equals a function they define (``linear``, ``dropout``) are private
(``_linear.py``, ``_dropout.py``): importing a submodule binds its name on this package, which
would otherwise shadow the function.
"""

from svertka.nn.functional._dropout import *  # noqa: F401,F403
from svertka.nn.functional._linear import *  # noqa: F401,F403
from svertka.nn.functional.activation import *  # noqa: F401,F403
from svertka.nn.functional.conv import *  # noqa: F401,F403
from svertka.nn.functional.distance import *  # noqa: F401,F403
from svertka.nn.functional.loss import *  # noqa: F401,F403
from svertka.nn.functional.normalization import *  # noqa: F401,F403
from svertka.nn.functional.padding import *  # noqa: F401,F403
from svertka.nn.functional.pooling import *  # noqa: F401,F403
from svertka.nn.functional.sparse import *  # noqa: F401,F403
from svertka.nn.functional.vision import *  # noqa: F401,F403
