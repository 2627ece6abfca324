"""The ground floor: what plugins and every other layer build on.

Interfaces, records, options, the run context, the plugin registry, hardware and precision,
signals, batches, errors, seeding, progress and liveness. Nothing here imports ``anobench.run``,
``anobench.results`` or ``anobench.cli``. Plugins import these names from ``anobench`` itself.
"""
