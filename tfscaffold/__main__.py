"""Allow `python -m tfscaffold`."""

import sys

from tfscaffold.cli import main

sys.exit(main())
