"""Results: the store, the leaderboard model and its statistics, rendering, the report, figures.

Built on ``anobench.api``; never imports ``anobench.run`` or ``anobench.cli``.
"""
