"""The ``synthetic`` dataset: DeScarGAN's wave-and-ellipse phantoms, generated and cached."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from anobench import DataError, Dataset, Option, RunContext, Split, option_set
from anobench.files import reserved_memmap

#: one independent random stream per split, derived from ``data_seed``
_STREAMS = {"train": 0, "val": 1, "test": 2}
_SIZES = (32, 64, 128, 256)
_COMPLETE = "meta.json"  # written last; a split directory without it is not a cache

QUICK = {"image_size": 64, "n_train": 300, "n_val": 50, "n_test": 100}
PAPER = {"image_size": 256, "n_train": 1400, "n_val": 200, "n_test": 400}


class SyntheticDataset(Dataset):
    """Synthetic phantoms of DeScarGAN (Wolleb et al., MICCAI 2020), with pixel ground truth.

    Two concentric-wave backgrounds and two elliptic contours; a diseased image is the healthy
    one with the small ellipse contracted by a smooth deformation field. Images are single
    channel, min-max normalised to ``[-1, 1]`` per image (both classes). Extras:
    ``healthy_twin`` (the same phantom undeformed, ``[N, 1, H, W]``) and ``gt_diff`` (healthy
    minus diseased in raw intensity units, ``[N, H, W]``; zeros for healthy images). Masks are
    ``|gt_diff| > 0.44195``, the official threshold.
    """

    name = "synthetic"
    description = (
        "DeScarGAN synthetic phantoms: wave backgrounds, two ellipses; disease = the small "
        "ellipse shrinks under a deformation field (pixel masks from the deformation)"
    )
    primary_metric = "pixel_ap"
    #: what the terminal leaderboard shows by default: localisation first, then detection
    key_metrics = ("pixel_ap", "pixel_dice", "pixel_auroc", "image_auroc")
    has_masks = True

    options = option_set(
        Option(
            "image_size",
            int,
            QUICK["image_size"],
            "side in pixels; phantoms are generated at 256 and area-downsampled",
            choices=_SIZES,
        ),
        Option(
            "n_train",
            int,
            QUICK["n_train"],
            "training images PER CLASS (quick: 300; paper: 1400 of the 2000 per class)",
            minimum=1,
        ),
        Option(
            "n_val",
            int,
            QUICK["n_val"],
            "validation images PER CLASS (quick: 50; paper: 200 of the 2000 per class)",
            minimum=1,
        ),
        Option(
            "n_test",
            int,
            QUICK["n_test"],
            "test images PER CLASS (quick: 100; paper: 400 of the 2000 per class)",
            minimum=1,
        ),
        Option(
            "data_seed",
            int,
            0,
            "seed of the phantoms; independent of the run seed, so that seeds vary training only",
            minimum=0,
        ),
        Option(
            "align_corners",
            bool,
            True,
            "True (default): sample the deformation at pixel centres; False: the official grid,"
            " which halves the outermost pixels of diseased images (a class cue at the border)",
        ),
    )
    profiles = {"quick": dict(QUICK), "paper": dict(PAPER)}

    # ----------------------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """sha256 of the generator version and the resolved options.

        Generation is deterministic, so the same options always give the same arrays; bump
        ``GENERATOR_VERSION`` whenever the generator's output changes.
        """
        from . import generator as _generator

        payload = {
            "dataset": self.name,
            "generator": _generator.GENERATOR_VERSION,
            "options": {k: self.params[k] for k in sorted(self.params)},
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def per_class(self, split: str) -> int:
        return int(self.params[f"n_{split}"])

    def cache_dir(self, ctx: RunContext) -> Path:
        """Where this configuration's arrays live: ``<cache>/synthetic/<fingerprint>/``."""
        return Path(ctx.cache_dir) / "synthetic" / self.fingerprint()

    def load(self, split: str, ctx: RunContext) -> Split:
        if split not in _STREAMS:
            raise DataError(f"dataset 'synthetic' has no split {split!r}; use train, val or test")
        final = self.cache_dir(ctx) / split
        source = "cache"
        if not final.is_dir() and self._materialise(split, final, ctx):
            source = "generated"
        return self._read(split, final, source)

    # ----------------------------------------------------------------------------------------

    def _materialise(self, split: str, final: Path, ctx: RunContext) -> bool:
        """Generate a split into a private temporary directory, then rename it into place.

        The rename is atomic, so readers see either nothing or a complete split; when two
        processes race, the first rename wins and the other discards its copy. Returns whether
        this call's copy is the one in place.
        """
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{split}-partial-", dir=final.parent))
        try:
            tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared
            meta = self._generate_into(split, tmp, ctx)
            (tmp / _COMPLETE).write_text(json.dumps(meta, indent=2, sort_keys=True))
            try:
                os.rename(tmp, final)
            except OSError:
                if not (final / _COMPLETE).is_file():
                    raise
                ctx.progress.log(f"synthetic {split}: another process cached it first")
                return False
            ctx.progress.log(f"synthetic {split}: cached at {final}")
            return True
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _generate_into(self, split: str, directory: Path, ctx: RunContext) -> dict[str, Any]:
        from . import generator as _generator

        n = self.per_class(split)
        size = int(self.params["image_size"])
        specs = _generator.array_specs(2 * n, size)
        arrays = {
            # blocks reserved first: a full disk is an error naming the file, not a bus error
            key: reserved_memmap(directory / f"{key}.npy", dt, sh)
            for key, (sh, dt) in specs.items()
        }
        started = time.perf_counter()
        desc = f"generating synthetic {split} ({2 * n} images, {size} px)"
        with ctx.progress.task(desc, total=2 * n) as task:
            result = _generator.generate_split(
                n,
                n,
                seed=int(self.params["data_seed"]),
                stream=_STREAMS[split],
                image_size=size,
                out=arrays,
                progress=task.advance,
                align_corners=bool(self.params["align_corners"]),
            )
        for array in arrays.values():
            array.flush()
        del arrays
        np.savez(directory / "phantoms.npz", **result.phantoms.as_dict())
        return {
            "generator": _generator.GENERATOR_VERSION,
            "fingerprint": self.fingerprint(),
            "split": split,
            "options": dict(self.params),
            "stream": _STREAMS[split],
            "per_class": n,
            "sampling": result.stats.as_dict(),
            "seconds": round(time.perf_counter() - started, 3),
        }

    def _read(self, split: str, directory: Path, source: str) -> Split:
        from . import generator as _generator

        meta_path = directory / _COMPLETE
        if not meta_path.is_file():
            raise DataError(
                f"synthetic cache {directory} is incomplete (no {_COMPLETE}); delete the"
                " directory and load again"
            )
        try:
            stored = json.loads(meta_path.read_text())
            arrays = {
                key: np.load(directory / f"{key}.npy", mmap_mode="r")
                for key in _generator.ARRAY_KEYS
            }
        except (OSError, ValueError) as exc:
            raise DataError(
                f"synthetic cache {directory} cannot be read ({exc}); delete it and load again"
            ) from exc
        labels = np.array(arrays["labels"], dtype=np.int8)
        fp = self.fingerprint()
        ids = tuple(f"synthetic-{fp[:8]}-{split}-{i:05d}" for i in range(len(labels)))
        counts = {"healthy": int((labels == 0).sum()), "diseased": int((labels == 1).sum())}
        meta = {
            "split": split,
            "counts": counts,
            "image_size": int(self.params["image_size"]),
            "data_seed": int(self.params["data_seed"]),
            "fingerprint": fp,
            "generator": _generator.GENERATOR_VERSION,
            "source": source,
            "cache": str(directory),
            "mask_threshold": _generator.MASK_THRESHOLD,
            "align_corners": bool(self.params["align_corners"]),
            "sampling": stored.get("sampling", {}),
            "gt_diff": "healthy minus diseased, raw intensity units (zeros for healthy images)",
        }
        return Split(
            images=arrays["images"],
            labels=labels,
            ids=ids,
            masks=arrays["masks"],
            extras={"healthy_twin": arrays["healthy_twin"], "gt_diff": arrays["gt_diff"]},
            meta=meta,
        )
