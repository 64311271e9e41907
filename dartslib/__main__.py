"""``python -m dartslib``: see :mod:`dartslib.cli`."""
import sys

from dartslib.cli import main

sys.exit(main())
