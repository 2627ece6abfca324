"""The file-dataset toolkit: datasets read from image files on disk.

A dataset whose images are files subclasses :class:`FileDataset` and lists its files
(:class:`FileListing` of :class:`FileEntry`); the toolkit reads, squares and caches the images
and fingerprints the listing. The lower-level helpers serve datasets with their own layout (a
table of labels, several CSVs) that still keep a cache of scaled images.
"""

from __future__ import annotations

from .api.filesets import (
    IMAGE_EXTENSIONS,
    FileDataset,
    FileEntry,
    FileListing,
    cap_options,
    image_stem,
    root_folder,
    walk_images,
)
from .api.imagecache import (
    ScaledImages,
    build_folder,
    decode_all,
    file_sha256,
    inside_root,
    open_cache,
    publish_folder,
    rejected_rows,
    skipped_files,
    workers_from_env,
)
from .api.releases import ReleaseDataset, release_images
from .api.space import reserved_memmap
from .api.squares import RESIZES, square_image

__all__ = [  # noqa: RUF022 (grouped by use)
    # a dataset of image files
    "FileDataset",
    "FileEntry",
    "FileListing",
    "IMAGE_EXTENSIONS",
    "RESIZES",
    "cap_options",
    "image_stem",
    "inside_root",
    "root_folder",
    "walk_images",
    # a benchmark's released layout (several sets, the user's copy)
    "ReleaseDataset",
    "release_images",
    # a cache of scaled images for a dataset with its own layout
    "ScaledImages",
    "build_folder",
    "decode_all",
    "file_sha256",
    "open_cache",
    "publish_folder",
    "rejected_rows",
    "reserved_memmap",
    "skipped_files",
    "square_image",
    "workers_from_env",
]
