"""``python -m anobench.cli``: the same as the ``anobench`` command."""

from .root import main

main()
