"""CheXpert (Irvin et al., AAAI 2019) from the user's own copy: No Finding vs Pleural Effusion."""

from .dataset import CheXpertDataset


def __getattr__(name: str):
    # the fixture generator imports anobench.testing (and torch): loaded on first use, so
    # that listing this plugin stays fast
    if name == "make_fixture":
        from .fixture import make_fixture

        return make_fixture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CheXpertDataset", "make_fixture"]
