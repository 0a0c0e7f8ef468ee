"""``python -m cadence.cli``: the same as the ``cadence`` console script."""

from cadence.cli import console

console()
