"""A published benchmark's own folder layout, read from the user's copy (BMAD, MedIAnomaly).

What such datasets share: the options (the copy's ``root``, the ``task`` among the release's
sets, squaring, caps), the copy found through ``root`` or an environment variable, a stand-in
copy for the contract checks, and listing a folder of images where the release must have one.
What differs, each release's layout, stays in its plugin (``find_release``, ``read_release``).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar

from .errors import DataError
from .filesets import FileDataset, FileListing, cap_options, root_folder, walk_images
from .options import Option, OptionSet, option_set
from .squares import RESIZES

#: the options that change the cached pixels, in the order the fingerprint reads them
_DATA_OPTIONS = ("task", "image_size", "resize", "equalize")
_CAPS = ("max_train", "max_val", "max_test")


class ReleaseDataset(FileDataset):
    """A dataset read from a benchmark's release that the user unpacked.

    A subclass sets ``env_root`` (the environment variable naming the copy), ``how_to`` (how to
    get the copy, for error messages), ``title`` (e.g. ``"BMAD folder"``), ``fixture`` (the
    ``module:function`` writing a stand-in copy, called with the folder, ``task`` and
    ``corrupt=False``) and ``fixture_task``; builds its options with :meth:`release_options`
    and implements :meth:`find_release` and :meth:`read_release`.
    """

    env_root: ClassVar[str] = ""
    how_to: ClassVar[str] = ""
    title: ClassVar[str] = "release folder"
    fixture: ClassVar[str] = ""
    fixture_task: ClassVar[str] = ""
    test_options: ClassVar[Mapping[str, Any]] = {"image_size": 32}

    @staticmethod
    def data_option_names(*extra: str) -> tuple[str, ...]:
        """``data_options`` of a release: the common ones, ``extra`` and the seed and caps."""
        return (*_DATA_OPTIONS, *extra, "data_seed", *_CAPS)

    @staticmethod
    def release_options(
        *,
        root: str,
        task: Option,
        image_size: int,
        resize: str,
        data_seed: str,
        extra: tuple[Option, ...] = (),
    ) -> OptionSet:
        """The options of a release dataset; ``root``, ``resize`` and ``data_seed`` are helps."""
        return option_set(
            Option("root", str, None, root, nullable=True),
            task,
            Option("image_size", int, image_size, "side of the square images in pixels", minimum=8),
            Option("resize", str, "stretch", resize, choices=RESIZES),
            Option("equalize", bool, False, "histogram equalisation after resizing"),
            *extra,
            Option("data_seed", int, 0, data_seed, minimum=0),
            *cap_options(),
            Option(
                "strict", bool, False, "fail on an unreadable image or mask instead of skipping"
            ),
        )

    @classmethod
    def test_data(cls, directory: Path) -> dict[str, Any]:
        if not (directory / "train").is_dir():
            module, _, function = cls.fixture.partition(":")
            getattr(import_module(module), function)(
                directory, task=cls.fixture_task, corrupt=False
            )
        return {"root": str(directory), "task": cls.fixture_task}

    def root_path(self) -> Path:
        root = root_folder(self.params["root"], self.env_root, self.title, self.how_to)
        return self.find_release(root)

    def find_release(self, root: Path) -> Path:
        """The release's folder: ``root`` itself or the folder in it that holds the task."""
        return root

    def read_listing(self) -> FileListing:
        return self.read_release(self.root_path(), self.task)

    def read_release(self, root: Path, task: str) -> FileListing:
        """Every image of the release with its label, mask and split; layout mistakes raise."""
        raise NotImplementedError


def release_images(folder: Path, where: str) -> tuple[list[str], list[str]]:
    """The images directly in ``folder`` and its listing lines (for the digest); a missing or
    empty folder raises, with ``where`` saying what the release should hold."""
    if not folder.is_dir():
        raise DataError(f"{folder}: missing folder; {where}")
    found, _, lines = walk_images(folder, recursive=False)
    if not found:
        raise DataError(f"{folder}: holds no image; {where}")
    return found, lines
