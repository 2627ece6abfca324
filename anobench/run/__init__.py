"""Running: one run (runner), executors, suites and the bench, predict on new images, devices.

Built on ``anobench.api``; writes its results through ``anobench.results`` (the store, figures,
run evidence, provenance). Never imports ``anobench.cli``.
"""
