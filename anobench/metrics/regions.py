"""Region- and image-wise pixel metrics: AUPRO (MVTec AD) and per-image AUROC (DeScarGAN).

Both take ``masks`` (bool ``[N, H, W]``, or one ``[H, W]`` image) and ``maps`` (real ``[N, H, W]``,
higher = more anomalous) and predict ``map >= t``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .ranking import RankedScores, ScoreError, _sorted_runs, as_binary_labels, as_scores

__all__ = ["AuproResult", "PerImageAUROC", "aupro", "aupro_details", "per_image_auroc"]

#: 8-connectivity in 2-D: a region's pixels may touch diagonally (as MVTec AD's reference code)
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
#: 4-connectivity: only edge neighbours (``scipy.ndimage.generate_binary_structure(2, 1)``)
FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


class AuproResult(NamedTuple):
    value: float
    n_regions: int
    reason: str | None


class PerImageAUROC(NamedTuple):
    """Per-image pixel AUROC: ``values`` maps image index to AUROC, ``mean`` is their mean."""

    values: dict[int, float]
    mean: float
    skipped_no_positive: int
    skipped_no_negative: int


def _image_stack(masks: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mask = as_binary_labels(masks)
    values = as_scores(maps)
    if mask.shape != values.shape:
        raise ValueError(f"masks {mask.shape} and maps {values.shape} differ in shape")
    if mask.ndim == 2:
        mask, values = mask[None], values[None]
    if mask.ndim != 3:
        raise ValueError(f"masks and maps must be [N, H, W] or [H, W], got {mask.shape}")
    return mask, values


def aupro(
    masks: np.ndarray, maps: np.ndarray, fpr_limit: float = 0.3, *, connectivity: int = 8
) -> float:
    """Area under the per-region-overlap curve up to ``fpr_limit``, divided by ``fpr_limit``.

    The MVTec AD definition (Bergmann et al.): the regions are the connected components of each
    image's ground-truth mask (8-connected by default, as MVTec's reference evaluation code; pass
    ``connectivity=4`` for 4-connected). For the prediction ``map >= t``:

    * PRO(t) = mean over all regions of all images of ``|prediction ∩ region| / |region|``;
    * FPR(t) = false positives / all negative pixels of all images (healthy images included).

    The curve has one point per distinct map value (ties grouped), starts at (0, 0), is linear
    between points, is integrated with the trapezoid rule up to FPR = ``fpr_limit`` (interpolating
    linearly at exactly that FPR) and divided by ``fpr_limit``, so a perfect map scores 1.

    NaN when there is no anomalous or no normal pixel (see :func:`aupro_details` for the reason).
    """
    return aupro_details(masks, maps, fpr_limit, connectivity=connectivity).value


def aupro_details(
    masks: np.ndarray, maps: np.ndarray, fpr_limit: float = 0.3, *, connectivity: int = 8
) -> AuproResult:
    """:func:`aupro` together with the number of regions and, when undefined, the reason."""
    from scipy import ndimage

    if not 0.0 < fpr_limit <= 1.0:
        raise ValueError(f"fpr_limit must be in (0, 1], got {fpr_limit}")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    structure = EIGHT_CONNECTED if connectivity == 8 else FOUR_CONNECTED
    mask, values = _image_stack(masks, maps)

    # region pixels: their scores and weights 1/|region| (divided by the region count at the end)
    pos_scores: list[np.ndarray] = []
    pos_weights: list[np.ndarray] = []
    n_regions = 0
    for i in range(mask.shape[0]):
        m = mask[i]
        if not m.any():
            continue
        labelled, k = ndimage.label(m, structure=structure)
        sizes = np.bincount(labelled.ravel(), minlength=k + 1)
        inverse = np.zeros(k + 1, dtype=np.float64)
        inverse[1:] = 1.0 / sizes[1:]
        pos_scores.append(np.asarray(values[i])[m])
        pos_weights.append(inverse[labelled[m]])
        n_regions += k

    not_mask = np.logical_not(mask)
    neg = values[not_mask]
    del not_mask
    if n_regions == 0:
        return AuproResult(math.nan, 0, "no anomalous pixels (no ground-truth regions)")
    if neg.size == 0:
        return AuproResult(
            math.nan, n_regions, "no normal pixels: the false-positive rate is undefined"
        )

    pos = np.concatenate(pos_scores)
    weights = np.concatenate(pos_weights)
    del pos_scores, pos_weights
    order = np.argsort(pos)
    pos = pos[order]
    weights = weights[order]
    del order
    neg.sort()
    if values.dtype.kind == "f" and (np.isnan(pos[-1]) or np.isnan(neg[-1])):
        raise ScoreError("anomaly maps contain NaN")
    # above[i] = total weight of the region pixels from sorted index i up (score >= pos[i])
    above = np.zeros(pos.size + 1, dtype=np.float64)
    above[:-1] = np.cumsum(weights[::-1])[::-1]
    del weights

    # The curve only moves right at negative values. A run of m negatives with value t, after c
    # negatives with a higher value, is the segment from (c/Nn, R(> t)) to ((c+m)/Nn, R(>= t)).
    n_neg = neg.size
    n_top = max(1, math.ceil(fpr_limit * n_neg))  # the top negatives reach FPR <= limit...
    start = int(np.searchsorted(neg, neg[n_neg - n_top], side="left"))  # ...with their whole run
    area = 0.0
    for first, counts, t in _sorted_runs(neg[start:]):
        higher = n_neg - (start + first + counts)  # negatives with a value > t
        r_gt = above[np.searchsorted(pos, t, side="right")]
        r_ge = above[np.searchsorted(pos, t, side="left")]
        f0 = higher / n_neg
        f1 = (higher + counts) / n_neg
        full = f1 <= fpr_limit
        area += float(np.sum(0.5 * (r_gt[full] + r_ge[full]) * (f1[full] - f0[full])))
        cut = np.flatnonzero((f0 < fpr_limit) & (f1 > fpr_limit))
        for j in cut:  # at most one run straddles the limit
            r_cut = r_gt[j] + (r_ge[j] - r_gt[j]) * (fpr_limit - f0[j]) / (f1[j] - f0[j])
            area += 0.5 * (r_gt[j] + r_cut) * (fpr_limit - f0[j])
    return AuproResult(area / n_regions / fpr_limit, n_regions, None)


def per_image_auroc(
    masks: np.ndarray, maps: np.ndarray, images: Sequence[int] | np.ndarray | None = None
) -> PerImageAUROC:
    """Pixel AUROC of each image on its own, and their mean (DeScarGAN's protocol, paper 5.1).

    ``images``: evaluate only these image indices (default: all), without copying the arrays.
    Images without an anomalous pixel, or without a normal one, have no AUROC: they are skipped
    and counted. ``mean`` is NaN when every image is skipped. Keys of ``values`` are indices into
    ``masks``.
    """
    mask, values = _image_stack(masks, maps)
    result: dict[int, float] = {}
    no_pos = no_neg = 0
    n_pixels = mask[0].size if mask.shape[0] else 0
    for i in range(mask.shape[0]) if images is None else (int(j) for j in images):
        k = int(np.count_nonzero(mask[i]))
        if k == 0:
            no_pos += 1
            continue
        if k == n_pixels:
            no_neg += 1
            continue
        result[i] = RankedScores.from_arrays(mask[i], values[i]).roc_auc()
    mean = float(np.mean(list(result.values()))) if result else math.nan
    return PerImageAUROC(result, mean, no_pos, no_neg)
