"""svertka.explain: see inside a CNN in the browser (``svertka explain``).

* :class:`Session`: one model, its preprocessing and its last input; the API's answers as
  plain data (no web framework needed);
* :func:`create_app`: the Flask app (``pip install 'svertka[web]'``) with the page and the JSON
  API; :func:`serve` runs it until Ctrl-C.
"""

from svertka.explain.app import STATIC_DIR, create_app, serve
from svertka.explain.session import RequestError, Session, conv_arith

__all__ = ["Session", "RequestError", "conv_arith", "create_app", "serve", "STATIC_DIR"]
