"""``python3 runner.pyz ARGS`` (the pushed zipapp) and ``python -m farm.runners.litert_runner``."""

import sys

from .main import main

sys.exit(main())
