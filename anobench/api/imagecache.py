"""What datasets that read the user's image files share: a uint8 cache, safe paths, skip lists.

A dataset decodes its files once into a uint8 memory map (``images.npy``) in a private folder
that is renamed into place when complete (``build_folder`` / ``publish_folder``), so a crash never
leaves half a cache that looks whole; ``ScaledImages`` serves that map as float32 in
``[-1, 1]``. ``decode_all`` runs a per-file decoder in threads and returns the files it could
not read, which the dataset skips and counts (``skipped``) instead of failing the run.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError

#: skipped files (and rejected rows) a split's provenance names; all of them are counted
LISTED = 20
_DRIVE = re.compile(r"^[A-Za-z]:")


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inside_root(value: str) -> str | None:
    """``value`` as a normalised relative POSIX path, or ``None`` when it would leave the root.

    Absolute paths, drive letters and ``..`` that climbs above the root are refused. The check
    is lexical (no symlinks followed), so a root whose subfolders are symlinks still works.
    """
    text = value.strip().replace("\\", "/")
    if not text or text.startswith("/") or _DRIVE.match(text):
        return None
    norm = posixpath.normpath(text)
    if norm in (".", "..") or norm.startswith("../"):
        return None
    return norm


def workers_from_env(variable: str, default: int | None = None) -> int:
    """Decoding threads: the integer in ``variable`` if set, else ``default`` (the run's
    threads: ``--threads 1`` means one), else every core."""
    text = os.environ.get(variable, "")
    if text.strip():
        try:
            return max(1, int(text))
        except ValueError:
            raise DataError(f"{variable}={text!r}: expected a number of threads") from None
    return default or os.cpu_count() or 1


def decode_all(
    paths: Sequence[Path],
    store: Callable[[int, Path], None],
    *,
    workers: int,
    advance: Callable[[int], None],
    errors: tuple[type[BaseException], ...] = (),
) -> list[dict[str, Any]]:
    """Call ``store(i, paths[i])`` for every file in threads; returns the failures, in order.

    A failure is ``{"row": i, "path": ..., "reason": ...}``: a missing file, or ``store``
    raising ``DataError`` (its message is the reason), ``OSError``, ``ValueError``,
    ``SyntaxError`` or one of ``errors``.
    Pillow releases the GIL while decoding and resizing, so threads scale across cores.
    """
    caught = (DataError, OSError, ValueError, SyntaxError, *errors)

    def one(i: int) -> dict[str, Any] | None:
        path = paths[i]
        if not path.is_file():
            return {"row": i, "path": str(path), "reason": "missing file"}
        try:
            store(i, path)
        except DataError as exc:  # already names the file and what is wrong
            return {"row": i, "path": str(path), "reason": str(exc)}
        except caught as exc:
            return {"row": i, "path": str(path), "reason": f"unreadable: {exc}"}
        return None

    failures: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for failure in pool.map(one, range(len(paths)), chunksize=16):
            if failure is not None:
                failures.append(failure)
            advance(1)
    return failures


def skipped_files(failures: Sequence[dict[str, Any]], listed: int = LISTED) -> dict[str, Any]:
    """The provenance entry of skipped files: their count and the first ``listed`` of them."""
    return {
        "count": len(failures),
        "files": [{"path": f["path"], "reason": f["reason"]} for f in failures[:listed]],
    }


def rejected_rows(rows: Sequence[dict[str, Any]], listed: int = LISTED) -> dict[str, Any]:
    """The provenance entry of rows refused (e.g. paths leaving the root): count and first ones."""
    return {"count": len(rows), "rows": list(rows[:listed])}


@contextmanager
def build_folder(final: Path) -> Iterator[Path]:
    """A private folder beside ``final`` to build a cache in; removed unless published."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=final.parent))
    try:
        tmp.chmod(0o755)
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def publish_folder(tmp: Path, final: Path, complete: str) -> bool:
    """Rename the built ``tmp`` to ``final``; ``False`` when another process's copy (one that
    holds the ``complete`` marker file) got there first."""
    try:
        os.rename(tmp, final)
    except OSError:
        if not (final / complete).is_file():
            raise
        return False
    return True


def open_cache(path: Path, what: str) -> np.ndarray:
    """A cached ``.npy`` as a read-only memory map; one line naming the fix if it is damaged."""
    try:
        return np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{what} cache {path.parent} cannot be read ({exc}); delete it and run again"
        ) from None


class ScaledImages:
    """A uint8 ``[N, C, H, W]`` array (e.g. a memory map) seen as float32 in ``[-1, 1]``.

    Conversion (``x / 127.5 - 1``) happens on access, so the cache stays uint8 on disk and in
    memory; indexing with an int, a slice or an index array returns a plain float32 ndarray.
    ``rows`` selects (and orders) the rows of ``raw`` this view exposes.
    """

    dtype = np.dtype(np.float32)
    ndim = 4

    def __init__(self, raw: np.ndarray, rows: np.ndarray) -> None:
        self._raw = raw
        self._rows = np.asarray(rows, dtype=np.int64)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self._rows), *self._raw.shape[1:])  # type: ignore[return-value]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.size * 4

    def __len__(self) -> int:
        return len(self._rows)

    @staticmethod
    def _scale(data: np.ndarray) -> np.ndarray:
        out = np.asarray(data, dtype=np.float32)
        out /= 127.5
        out -= 1.0
        return out

    def __getitem__(self, key):
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if first is Ellipsis:
            return np.asarray(self)[key]
        rows = self._rows[first]
        if np.ndim(rows) == 0:
            data = self._raw[int(rows)]
        else:
            rows = np.asarray(rows)
            # a contiguous run of rows reads as one slice of the memory map
            if len(rows) and np.all(np.diff(rows) == 1):
                data = self._raw[int(rows[0]) : int(rows[-1]) + 1]
            else:
                data = self._raw[rows]
        if rest:
            data = data[rest] if np.ndim(rows) == 0 else data[(slice(None), *rest)]
        return self._scale(data)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __array__(self, dtype=None, copy=None):
        out = np.empty(self.shape, dtype=np.float32)
        for start in range(0, len(self), 1024):
            out[start : start + 1024] = self[start : start + 1024]
        return out if dtype is None else out.astype(dtype, copy=False)

    def astype(self, dtype, copy: bool = True) -> np.ndarray:
        return np.asarray(self).astype(dtype, copy=False)

    def copy(self) -> np.ndarray:
        return np.asarray(self)

    def min(self) -> np.float32:
        return self._scale(np.asarray(self._raw[self._rows].min()))[()]

    def max(self) -> np.float32:
        return self._scale(np.asarray(self._raw[self._rows].max()))[()]
