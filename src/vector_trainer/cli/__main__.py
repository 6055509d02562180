"""``python -m vector_trainer.cli``: the same as the ``vectortrainer`` command."""

import sys

from vector_trainer.cli import main

sys.exit(main())
