"""``python -m dartslib``: see :mod:`dartslib.cli`."""
import sys

from .cli import main

sys.exit(main())
