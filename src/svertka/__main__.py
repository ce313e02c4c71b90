"""``python -m svertka`` is the ``svertka`` command."""

import sys

from svertka.cli import main

sys.exit(main())
