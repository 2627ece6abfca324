"""The ``chexpert`` dataset: No Finding (healthy) vs Pleural Effusion (diseased), raw release.

CheXpert cannot be downloaded automatically (Stanford research-use agreement): the user points
``root`` (or ``ANOBENCH_CHEXPERT_ROOT``) at an unpacked ``CheXpert-v1.0-small`` or
``CheXpert-v1.0`` folder. Images are decoded once into a uint8 memory map under the anobench
cache, keyed by the CSVs' sha256 and the options; later runs read it in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from anobench import DataError, Option, RunContext, Split, option_set
from anobench.files import (
    FileDataset,
    ScaledImages,
    build_folder,
    cap_options,
    decode_all,
    file_sha256,
    open_cache,
    publish_folder,
    rejected_rows,
    reserved_memmap,
    root_folder,
    skipped_files,
    workers_from_env,
)

from .images import RESIZES, decode, prepare
from .selection import (
    BALANCES,
    POLICIES,
    SPLIT_CODES,
    VIEWS,
    Criteria,
    Selection,
    select,
    subsample,
    view_group,
)
from .table import RELEASES, Table, read_table

ENV_ROOT = "ANOBENCH_CHEXPERT_ROOT"
ENV_WORKERS = "ANOBENCH_CHEXPERT_WORKERS"
#: bump when decoding, selection or the cache layout changes: old caches are then ignored
LOADER_VERSION = 2  # 2: balance=class_view draws caps per (class, view) cell
SPLITS = ("train", "val", "test", "official_valid")
_COMPLETE = "index.json"  # written last; a cache folder without it is not a cache
HOW_TO = (
    "CheXpert cannot be downloaded automatically (Stanford research-use agreement): request it"
    " at https://stanfordmlgroup.github.io/competitions/chexpert/, unpack CheXpert-v1.0-small"
    " (or CheXpert-v1.0) and point anobench at the folder that holds train.csv, valid.csv,"
    " train/ and valid/: --dataset-opt root=/path/to/CheXpert-v1.0-small, or export"
    f" {ENV_ROOT}=/path/to/CheXpert-v1.0-small"
)
#: options that change which images are cached or their pixels (the cache key)
_DATA_OPTIONS = (
    "image_size",
    "resize",
    "equalize",
    "uncertain",
    "effusion_only",
    "view",
    "frontal_only",
    "balance",
    "val_fraction",
    "test_fraction",
    "data_seed",
    "max_train",
    "max_val",
    "max_test",
)
QUICK = {"image_size": 64, "max_train": 300, "max_val": 50, "max_test": 100}
PAPER = {"image_size": 256, "max_train": None, "max_val": None, "max_test": None}


class CheXpertDataset(FileDataset):
    """CheXpert (Irvin et al., AAAI 2019): healthy = No Finding, diseased = Pleural Effusion.

    Frontal images of train.csv, split train/val/test by patient with ``data_seed``; the
    official valid.csv (radiologist labels) is the extra split ``official_valid``, or the test
    split with ``test_split=official_valid``. No pixel masks: the primary metric is image AUROC.

    What it shares with ``FileDataset``: the options that change the pixels, the loader version
    and the decoding threads as class attributes, the cache folder and the reading of its index.
    What stays apart, and why: the data is two CSVs of labels, not a listing of files, so the
    cache key hashes both CSVs (and no file listing); the selection (uncertain labels, views,
    patients, class balance) happens before decoding, and images that cannot be read are
    balanced again afterwards (``_rebalance``); valid.csv is a fourth split; the images go
    through CheXpert's own decoding (``images.py``). So ``load``, the build, the split's
    provenance and ``fingerprint`` (which adds the test split) are its own.
    """

    name = "chexpert"
    description = (
        "CheXpert from the user's copy of the raw release: No Finding (healthy) vs Pleural"
        " Effusion (diseased), frontal views, split by patient; no masks"
    )
    primary_metric = "image_auroc"
    #: no masks: detection only, and the accuracy at the threshold chosen on validation
    key_metrics = ("image_auroc", "image_ap", "image_balanced_accuracy")
    has_masks = False
    data_options = _DATA_OPTIONS
    loader_version = LOADER_VERSION
    workers_env = ENV_WORKERS

    options = option_set(
        Option(
            "root",
            str,
            None,
            f"folder with train.csv, valid.csv, train/, valid/ (default: ${ENV_ROOT})",
            nullable=True,
        ),
        Option("image_size", int, 256, "side of the square images in pixels", minimum=8),
        Option(
            "resize",
            str,
            "crop",
            "to a square: crop (centre, shorter side), pad (black borders) or stretch",
            choices=RESIZES,
        ),
        Option("equalize", bool, False, "histogram equalisation after resizing"),
        Option(
            "uncertain",
            str,
            "drop",
            "uncertain (-1.0) labels: drop the image, or read them as ones or zeros (also for"
            " the co-findings of effusion_only)",
            choices=POLICIES,
        ),
        Option(
            "effusion_only",
            bool,
            False,
            "diseased images must have no other positive finding (Support Devices ignored)",
        ),
        Option("view", str, "all", "frontal projection: all, AP or PA", choices=VIEWS),
        Option("frontal_only", bool, True, "drop lateral images (view=AP/PA implies frontal)"),
        Option(
            "balance",
            str,
            "none",
            "per split: none, class (equal healthy and diseased) or class_view (equal within"
            " each view, against the AP shortcut)",
            choices=BALANCES,
        ),
        Option("val_fraction", float, 0.1, "share of train.csv patients for val", minimum=0.0),
        Option("test_fraction", float, 0.2, "share of train.csv patients for test", minimum=0.0),
        Option("data_seed", int, 0, "seed of the patient split and subsampling", minimum=0),
        *cap_options(),
        Option(
            "test_split",
            str,
            "heldout",
            "test on the held-out train.csv patients, or on the official valid.csv",
            choices=("heldout", "official_valid"),
        ),
        Option(
            "strict",
            bool,
            False,
            "fail on an unreadable image or a Path leaving the root instead of skipping it",
        ),
    )
    profiles = {"quick": dict(QUICK), "paper": dict(PAPER)}
    test_options = {"image_size": 32}

    @classmethod
    def test_data(cls, directory: Path) -> dict[str, Any]:
        from .fixture import make_fixture

        if not (directory / "train.csv").is_file():
            make_fixture(directory)
        return {"root": str(directory)}

    # -- where the data is --------------------------------------------------------------------

    def check(self) -> None:
        self.root_path()

    #: the fingerprint covers the CSVs, not the folder's path
    location_options = ("root",)

    def root_path(self) -> Path:
        """The release folder (the one holding train.csv); one message with the fix otherwise."""
        root = root_folder(self.params["root"], ENV_ROOT, "CheXpert folder", HOW_TO)
        if (root / "train.csv").is_file():
            return root
        for release in RELEASES:
            if (root / release / "train.csv").is_file():
                return root / release
        raise DataError(f"{root} holds no train.csv. {HOW_TO}")

    def _hashes(self, root: Path) -> dict[str, str | None]:
        if getattr(self, "_hash_cache", None) is None or self._hash_cache[0] != root:
            valid = root / "valid.csv"
            hashes = {
                "train.csv": file_sha256(root / "train.csv"),
                "valid.csv": file_sha256(valid) if valid.is_file() else None,
            }
            self._hash_cache = (root, hashes)
        return self._hash_cache[1]

    def cache_key(self) -> str:
        """sha256 of the loader version, the CSVs' sha256 and the data options."""
        payload = {
            "loader": self.loader_version,
            "csv_sha256": self._hashes(self.root_path()),
            "options": {k: self.params[k] for k in self.data_options},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def fingerprint(self) -> str:
        """The cache key plus which split is the test split. Image files are not hashed: the
        cache assumes the CSVs and the images change together (delete it if not)."""
        text = f"{self.cache_key()}:{self.params['test_split']}"
        return hashlib.sha256(text.encode()).hexdigest()

    # -- load ---------------------------------------------------------------------------------

    def load(self, split: str, ctx: RunContext) -> Split:
        if split not in SPLITS:
            raise DataError(f"dataset 'chexpert' has no split {split!r}; use {', '.join(SPLITS)}")
        official = split == "test" and self.test_split == "official_valid"
        name = "official_valid" if official else split
        directory = self.cache_dir(ctx)
        built = False
        if not (directory / _COMPLETE).is_file():
            built = self._build(directory, ctx)
        index = self._index(directory)
        if name not in index["splits"]:
            raise DataError(
                f"{self.root_path() / 'valid.csv'} does not exist, so there is no official_valid"
                " split; restore valid.csv or use test_split=heldout"
            )
        self._enforce_strict(index)
        return self._split(directory, index, name, "built" if built else "cache")

    def _enforce_strict(self, index: dict[str, Any]) -> None:
        if not self.strict:
            return
        if index["failures"]:
            first = index["failures"][0]
            raise DataError(
                f"{len(index['failures'])} image(s) could not be read, first {first['path']}"
                f" ({first['reason']}); fix or remove them, or set strict=false to skip them"
            )
        for csv, rows in index["rejected"].items():
            if rows:
                raise DataError(
                    f"{csv} line {rows[0]['line']}, column 'Path': {rows[0]['path']!r} leads"
                    f" outside the CheXpert folder ({len(rows)} such row(s)); fix the CSV, or"
                    " set strict=false to skip them"
                )

    def _split(self, directory: Path, index: dict[str, Any], name: str, source: str) -> Split:
        start, stop = index["splits"][name]
        ok = np.asarray(index["ok"][start:stop], dtype=bool)
        rows = np.arange(start, stop)[ok]
        if len(rows) == 0:
            raise DataError(
                f"chexpert split '{name}' has no readable image with these options (selection:"
                f" {index['selection']['candidates'].get(name)}); loosen the options or check"
                " the images"
            )
        raw = open_cache(directory / "images.npy", "chexpert")
        csv = "valid.csv" if name == "official_valid" else "train.csv"
        failed = [f for f in index["failures"] if start <= f["row"] < stop]
        rebalanced = (stop - start) - len(rows) - len(failed)
        rejected = index["rejected"].get(csv, [])
        selection = index["selection"]
        meta = {
            "split": name,
            "source": csv if name == "official_valid" else f"{csv}, patients held for '{name}'",
            "root": index["root"],
            "cache": str(directory),
            "cache_source": source,
            "fingerprint": self.fingerprint(),
            "image_size": int(self.image_size),
            "patients": selection["patients"][name],
            "views": selection["views"][name],
            "candidates_before_balance_and_caps": selection["candidates"][name],
            "excluded_rows": selection["excluded"][csv],
            "skipped": skipped_files(failed),
            "rejected_paths": rejected_rows(rejected),
            "dropped_to_rebalance": rebalanced,
        }
        return Split(
            images=ScaledImages(raw, rows),
            labels=np.asarray(index["labels"], dtype=np.int8)[rows],
            ids=tuple(index["ids"][i] for i in rows),
            meta=meta,
        )

    # -- build --------------------------------------------------------------------------------

    def _select(self, root: Path) -> tuple[Selection, dict[str, Table]]:
        tables = {"train.csv": read_table(root / "train.csv")}
        if (root / "valid.csv").is_file():
            tables["valid.csv"] = read_table(root / "valid.csv")
        criteria = Criteria(
            uncertain=self.uncertain,
            effusion_only=self.effusion_only,
            view=self.view,
            frontal_only=self.frontal_only,
        )
        selection = select(
            tables["train.csv"],
            tables.get("valid.csv"),
            criteria,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            data_seed=self.data_seed,
            balance=self.balance,
            caps={"train": self.max_train, "val": self.max_val, "test": self.max_test},
        )
        return selection, tables

    def _build(self, final: Path, ctx: RunContext) -> bool:
        """Select, decode and store into a private folder renamed into place (atomic).

        Returns whether this call's copy is the one in place (another process may win a race).
        """
        if self.val_fraction + self.test_fraction >= 1:
            raise DataError(
                f"chexpert: val_fraction + test_fraction = {self.val_fraction + self.test_fraction}"
                " leaves no patient for training; keep their sum below 1"
            )
        root = self.root_path()
        started = time.perf_counter()
        selection, tables = self._select(root)
        order = [s for s in SPLITS if s in selection.rows]
        rels, ids, labels, groups, splits, start = [], [], [], [], {}, 0
        for name in order:
            table = tables["valid.csv" if name == "official_valid" else "train.csv"]
            chosen = table.rel[selection.rows[name]].tolist()
            groups += view_group(table)[selection.rows[name]].tolist()
            rels += chosen
            ids += [os.path.splitext(rel)[0] for rel in chosen]
            labels += selection.labels[name].tolist()
            splits[name] = (start, start + len(chosen))
            start += len(chosen)
        if not rels:
            raise DataError(
                f"no CheXpert image matches these options (excluded rows per reason:"
                f" {selection.excluded}); loosen uncertain/effusion_only/view"
            )
        size = int(self.image_size)
        with build_folder(final) as tmp:
            raw = reserved_memmap(tmp / "images.npy", np.uint8, (len(rels), 1, size, size))

            def store(i: int, path: Path) -> None:
                raw[i, 0] = decode(path, size, self.resize, self.equalize)

            workers = workers_from_env(self.workers_env, default=ctx.threads)
            desc = f"chexpert: decoding {len(rels)} images to {size} px ({workers} threads)"
            with ctx.progress.task(desc, total=len(rels)) as task:
                failures = decode_all(
                    [root / rel for rel in rels], store, workers=workers, advance=task.advance
                )
            raw.flush()
            ok = np.ones(len(rels), dtype=bool)
            ok[[f["row"] for f in failures]] = False
            kept = self._rebalance(ok, np.asarray(labels), np.asarray(groups, dtype=object), splits)
            index = {
                "loader": self.loader_version,
                "options": {k: self.params[k] for k in self.data_options},
                "csv_sha256": self._hashes(root),
                "root": str(root),
                "splits": splits,
                "ids": ids,
                "labels": labels,
                "ok": kept.tolist(),
                "views": groups,
                "failures": failures,
                "rejected": {csv: t.rejected for csv, t in tables.items()},
                "selection": {
                    "excluded": selection.excluded,
                    "candidates": selection.candidates,
                    "views": selection.views,
                    "patients": selection.patients,
                },
                "build_seconds": round(time.perf_counter() - started, 3),
            }
            (tmp / _COMPLETE).write_text(json.dumps(index))
            self._report(index, ctx)
            if not publish_folder(tmp, final, _COMPLETE):
                return False
            ctx.progress.log(f"chexpert: cached {len(rels)} images at {final}")
            return True

    def _rebalance(
        self, ok: np.ndarray, labels: np.ndarray, groups: np.ndarray, splits: dict[str, tuple]
    ) -> np.ndarray:
        """Skipped images unbalance a balanced split: drop the surplus of the other class."""
        kept = ok.copy()
        if self.balance == "none" or ok.all():
            return kept
        for name, (start, stop) in splits.items():
            if name == "official_valid":
                continue
            rows = np.arange(start, stop)[ok[start:stop]]
            rng = np.random.default_rng([self.data_seed, 2, SPLIT_CODES[name]])
            chosen = subsample(rows, labels, groups, self.balance, None, rng)
            kept[start:stop] = False
            kept[chosen] = True
        return kept

    @staticmethod
    def _report(index: dict[str, Any], ctx: RunContext) -> None:
        failures = index["failures"]
        if failures:
            ctx.progress.log(
                f"chexpert: skipped {len(failures)} unreadable or missing image(s), first"
                f" {failures[0]['path']} ({failures[0]['reason']}); listed in the run's provenance"
            )
        for csv, rows in index["rejected"].items():
            if rows:
                ctx.progress.log(
                    f"chexpert: rejected {len(rows)} row(s) of {csv} whose Path leads outside the"
                    f" CheXpert folder, first line {rows[0]['line']}: {rows[0]['path']!r}"
                )

    # -- user images --------------------------------------------------------------------------

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """A display-intensity image (``[0, 1]``) prepared exactly like the cached ones."""
        from PIL import Image

        pixels = np.round(np.clip(np.asarray(image, dtype=np.float64), 0, 1) * 255)
        gray = Image.fromarray(pixels.astype(np.uint8))
        prepared = prepare(gray, int(self.image_size), self.resize, self.equalize)
        return (prepared.astype(np.float32) / 127.5 - 1.0)[None]
