"""``python -m relationnet``: the same command line as ``relationnet``."""
import sys

from .cli import main

sys.exit(main())
