"""A plugin whose optional extra is not installed, and one whose import fails for another reason."""

from anobench import require_extra

require_extra("fancy", "anobench_no_such_module")

raise AssertionError("require_extra must stop the import before this line")
