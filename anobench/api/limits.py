"""The largest values of numeric options, checked where they are parsed (no imports: the CLI
reads them at start-up).

Past these, a value is a typo rather than a request: the store keeps seeds as SQLite's signed
64-bit integers, and thread or process counts in the thousands fail inside OpenMP or the OS
with messages that do not name the option.
"""

#: seeds are stored as SQLite INTEGER (signed 64 bits); torch accepts them all
MAX_SEED = 2**63 - 1
#: ``--threads`` and ``$ANOBENCH_THREADS``
MAX_THREADS = 1024
#: ``bench --jobs``
MAX_JOBS = 1024
#: ``--bootstrap``: resamples x test images are held in memory
MAX_BOOTSTRAP = 100_000
