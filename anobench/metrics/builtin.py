"""The built-in metric plugins (registered as ``anobench.metrics`` entry points).

Image metrics compare ``predictions.scores`` with ``split.labels`` (1 = diseased = positive).
Pixel metrics pool every pixel of every test image (healthy images' pixels are negatives) unless
their name says otherwise. Thresholds come from the validation split; the one metric that picks
its threshold on the test set says so in its name (``_oracle``) and has ``oracle = True``.

A metric that cannot be computed returns ``MetricResult.undefined(reason)``; it never raises for
missing maps, masks or validation data, a single class or NaN scores.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ..api.interfaces import Metric
from ..api.records import DISEASED, MetricResult, Scored
from ..api.thresholds import at_or_above
from .otsu import otsu_threshold
from .ranking import RankedScores, ScoreError
from .regions import aupro_details, per_image_auroc

__all__ = [
    "ImageAP",
    "ImageAUROC",
    "ImageAccuracy",
    "ImageBalancedAccuracy",
    "PixelAP",
    "PixelAUPRO",
    "PixelAUROC",
    "PixelAUROCPerImage",
    "PixelDice",
    "PixelDiceOracle",
    "PixelDiceOtsu",
]


def unavailable(metric: Metric, test: Scored, val: Scored | None) -> str | None:
    """Why ``metric`` cannot be computed on these inputs, or ``None`` when it can.

    Checks what the metric's class attributes promise it needs: anomaly maps (pixel level),
    masks (``needs_masks``), validation predictions (``needs_val``), and matching shapes.
    """
    scored = [("test", test)]
    if metric.needs_val:
        if val is None:
            return "needs the validation split's predictions to choose a threshold; none given"
        scored.append(("validation", val))
    for split_name, s in scored:
        n = len(s.split.labels)
        scores = np.asarray(s.predictions.scores)
        if metric.level == "image" and scores.shape != (n,):
            return f"{split_name} scores have shape {scores.shape}, expected ({n},)"
        if metric.level == "pixel":
            maps = s.predictions.maps
            if maps is None:
                return "method returns no anomaly maps"
            if metric.needs_masks and s.split.masks is None:
                return f"{split_name} split has no pixel masks"
            if s.split.masks is not None and np.shape(maps) != np.shape(s.split.masks):
                return (
                    f"{split_name} anomaly maps have shape {np.shape(maps)}, masks have"
                    f" {np.shape(s.split.masks)}"
                )
    return None


class _Builtin(Metric):
    """Shared checks: subclasses implement ``_compute`` on inputs known to be usable."""

    def compute(self, test: Scored, val: Scored | None = None) -> MetricResult:
        reason = unavailable(self, test, val)
        if reason is not None:
            return MetricResult.undefined(reason)
        try:
            return self._compute(test, val)
        except ScoreError as exc:
            return MetricResult.undefined(f"cannot rank the predictions: {exc}")

    def _compute(self, test: Scored, val: Scored | None) -> MetricResult:
        raise NotImplementedError


def _image_arrays(s: Scored) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(s.split.labels) == DISEASED
    return labels, np.asarray(s.predictions.scores)


def _pixel_arrays(s: Scored) -> tuple[np.ndarray, np.ndarray]:
    masks = np.asarray(s.split.masks)
    if masks.dtype != np.bool_:
        masks = masks != 0
    return masks, np.asarray(s.predictions.maps)


def _two_class(ranked: RankedScores, what: str) -> str | None:
    reason = ranked.reason()
    return None if reason is None else f"{what}: {reason}"


def _result(value: float, reason: str | None = None, **kwargs: Any) -> MetricResult:
    if reason is not None or math.isnan(value):
        return MetricResult(value=math.nan, reason=reason or "undefined", **kwargs)
    return MetricResult(value=float(value), **kwargs)


# ---------------------------------------------------------------------------------------------
# image level


class ImageAUROC(_Builtin):
    name = "image_auroc"
    short_name = "iAUROC"
    resample = "image_auroc"
    description = "Image-level area under the ROC curve of the anomaly scores (exact, ties = 1/2)."
    level = "image"

    def _compute(self, test: Scored, val: Scored | None) -> MetricResult:
        ranked = RankedScores.from_arrays(*_image_arrays(test))
        details = {"n_diseased": ranked.n_pos, "n_healthy": ranked.n_neg}
        return _result(ranked.roc_auc(), _two_class(ranked, "test images"), details=details)


class ImageAP(_Builtin):
    name = "image_ap"
    short_name = "iAP"
    resample = "image_ap"
    description = "Image-level average precision (area under the precision-recall curve)."
    level = "image"

    def _compute(self, test: Scored, val: Scored | None) -> MetricResult:
        ranked = RankedScores.from_arrays(*_image_arrays(test))
        details = {"n_diseased": ranked.n_pos, "n_healthy": ranked.n_neg}
        return _result(
            ranked.average_precision(), _two_class(ranked, "test images"), details=details
        )


class _ValThresholdImage(_Builtin):
    """Classifies test images with ``score >= t``, ``t`` maximising balanced accuracy on val."""

    level = "image"
    needs_val = True

    def _threshold(self, val: Scored) -> tuple[float, float, str | None]:
        ranked = RankedScores.from_arrays(*_image_arrays(val))
        reason = _two_class(ranked, "validation images")
        if reason is not None:
            return math.nan, math.nan, reason
        threshold, balanced = ranked.best_balanced_accuracy()
        return threshold, balanced, None

    def _compute(self, test: Scored, val: Scored | None) -> MetricResult:
        assert val is not None  # checked by unavailable()
        threshold, val_balanced, reason = self._threshold(val)
        if reason is not None:
            return MetricResult.undefined(f"cannot choose a threshold: {reason}")
        labels, scores = _image_arrays(test)
        if labels.size == 0:
            return MetricResult.undefined("no test images")
        if scores.dtype.kind == "f" and np.isnan(scores).any():
            return MetricResult.undefined("cannot classify the test images: scores contain NaN")
        predicted = at_or_above(scores, threshold)
        correct = predicted == labels
        details = {
            "threshold": threshold,
            "threshold_source": "validation (max balanced accuracy; highest threshold on ties)",
            "val_balanced_accuracy": val_balanced,
        }
        return self._value(labels, predicted, correct, test, details)

    def _value(
        self,
        labels: np.ndarray,
        predicted: np.ndarray,
        correct: np.ndarray,
        test: Scored,
        details: dict[str, Any],
    ) -> MetricResult:
        raise NotImplementedError


class ImageAccuracy(_ValThresholdImage):
    name = "image_accuracy"
    short_name = "iAcc@val"
    description = (
        "Fraction of test images classified correctly with score >= t, the threshold t chosen on"
        " the validation split (maximum balanced accuracy)."
    )

    def _value(self, labels, predicted, correct, test, details) -> MetricResult:
        per_image = {
            image_id: 1.0 if ok else 0.0
            for image_id, ok in zip(test.split.ids, correct.tolist(), strict=True)
        }
        return MetricResult(value=float(np.mean(correct)), per_image=per_image, details=details)


class ImageBalancedAccuracy(_ValThresholdImage):
    name = "image_balanced_accuracy"
    short_name = "iBalAcc@val"
    resample = "image_balanced_accuracy"
    description = (
        "Mean of sensitivity and specificity on the test images with score >= t, the threshold t"
        " chosen on the validation split (maximum balanced accuracy)."
    )

    def _value(self, labels, predicted, correct, test, details) -> MetricResult:
        n_pos = int(np.count_nonzero(labels))
        n_neg = labels.size - n_pos
        if n_pos == 0 or n_neg == 0:
            return MetricResult.undefined(
                "test images: only one class present; balanced accuracy needs both"
            )
        tpr = int(np.count_nonzero(predicted & labels)) / n_pos
        tnr = int(np.count_nonzero(~predicted & ~labels)) / n_neg
        details = {**details, "sensitivity": tpr, "specificity": tnr}
        return MetricResult(value=0.5 * (tpr + tnr), details=details)


# ---------------------------------------------------------------------------------------------
# pixel level, pooled


class _Pixel(_Builtin):
    level = "pixel"
    needs_masks = True


class PixelAUROC(_Pixel):
    name = "pixel_auroc"
    short_name = "pAUROC"
    resample = "pixel_auroc"
    description = (
        "Area under the ROC curve of all test pixels pooled (healthy images' pixels are negatives)."
    )

    def _compute(self, test: Scored, val: Scored | None) -> MetricResult:
        ranked = RankedScores.from_arrays(*_pixel_arrays(test))
        details = {"n_positive_pixels": ranked.n_pos, "n_negative_pixels": ranked.n_neg}
        return _result(ranked.roc_auc(), _two_class(ranked, "test pixels"), details=details)


class PixelAP(_Pixel):
    name = "pixel_ap"
    short_name = "pAP"
    resample = "pixel_ap"
    description = (
        "Average precision of all test pixels pooled (healthy images' pixels are negatives)."
    )

    def _compute(self, test: Scored, val: Scored | None) -> MetricResult:
        ranked = RankedScores.from_arrays(*_pixel_arrays(test))
        details = {"n_positive_pixels": ranked.n_pos, "n_negative_pixels": ranked.n_neg}
        return _result(
            ranked.average_precision(), _two_class(ranked, "test pixels"), details=details
        )


def _dice_at(test: Scored, threshold: float) -> MetricResult:
    """Pooled test Dice of ``map >= threshold`` and the Dice of every diseased test image.

    Per image: only diseased images with a non-empty mask get a value; a diseased image with an
    empty mask (nothing annotated, so Dice is 0/0 or 0 whatever the map) is skipped and counted
    in ``details["skipped_empty_mask"]``.
    """
    masks, maps = _pixel_arrays(test)
    n_true = np.count_nonzero(masks.reshape(masks.shape[0], -1), axis=1)
    if int(n_true.sum()) == 0:
        return MetricResult.undefined("test pixels: no positive (anomalous) pixels")
    pred = at_or_above(maps, threshold)
    n_pred = np.count_nonzero(pred.reshape(pred.shape[0], -1), axis=1)
    np.logical_and(pred, masks, out=pred)
    tp = np.count_nonzero(pred.reshape(pred.shape[0], -1), axis=1)
    del pred
    pooled = 2.0 * int(tp.sum()) / (int(n_pred.sum()) + int(n_true.sum()))
    diseased = np.asarray(test.split.labels) == DISEASED
    per_image: dict[str, float] = {}
    skipped = 0
    for i in np.flatnonzero(diseased):
        if n_true[i] == 0:
            skipped += 1
            continue
        per_image[test.split.ids[i]] = 2.0 * int(tp[i]) / (int(n_pred[i]) + int(n_true[i]))
    details = {"threshold": threshold, "skipped_empty_mask": skipped}
    return MetricResult(value=pooled, per_image=per_image, details=details)


class PixelDice(_Pixel):
    name = "pixel_dice"
    short_name = "Dice@val"
    resample = "pixel_dice"
    description = (
        "Dice of all test pixels pooled with map >= t, the threshold t that maximises pooled Dice"
        " on the validation split; per-image values are the Dice of each diseased test image."
    )
    needs_val = True

    def _compute(self, test: Scored, val: Scored | None) -> MetricResult:
        assert val is not None  # checked by unavailable()
        ranked = RankedScores.from_arrays(*_pixel_arrays(val))
        if ranked.n_pos == 0:
            return MetricResult.undefined(
                "cannot choose a threshold: validation masks contain no anomalous pixel"
            )
        val_dice, threshold = ranked.best_dice()
        del ranked
        maps = _pixel_arrays(test)[1]
        if maps.dtype.kind == "f" and np.isnan(maps).any():
            return MetricResult.undefined("cannot threshold the test maps: they contain NaN")
        result = _dice_at(test, threshold)
        if not result.defined:
            return result
        details = {
            **result.details,
            "threshold_source": "validation (max pooled Dice; highest threshold on ties)",
            "val_dice": val_dice,
        }
        return MetricResult(value=result.value, per_image=result.per_image, details=details)


class PixelDiceOracle(_Pixel):
    name = "pixel_dice_oracle"
    short_name = "Dice@test"
    resample = "pixel_dice_oracle"
    description = (
        "Best pooled Dice over all thresholds searched on the test set itself (the usual"
        " ⌈Dice⌉): an optimistic upper bound, not a fair comparison; use pixel_dice for that."
    )
    oracle = True

    def _compute(self, test: Scored, val: Scored | None) -> MetricResult:
        ranked = RankedScores.from_arrays(*_pixel_arrays(test))
        if ranked.n_pos == 0:
            return MetricResult.undefined("test pixels: no positive (anomalous) pixels")
        dice, threshold = ranked.best_dice()
        del ranked
        per_image = _dice_at(test, threshold)
        details = {
            **per_image.details,
            "threshold_source": "test set (oracle: max pooled Dice; highest threshold on ties)",
        }
        return MetricResult(value=dice, per_image=per_image.per_image, details=details)


class PixelDiceOtsu(_Pixel):
    name = "pixel_dice_otsu"
    short_name = "Dice@Otsu"
    description = (
        "Mean over diseased test images of each image's Dice at its own Otsu threshold (map >"
        " Otsu(map), 256 bins; Wolleb et al., MICCAI 2022); images with an empty mask skipped."
    )

    def _compute(self, test: Scored, val: Scored | None) -> MetricResult:
        masks, maps = _pixel_arrays(test)
        diseased = np.flatnonzero(np.asarray(test.split.labels) == DISEASED)
        if diseased.size == 0:
            return MetricResult.undefined("no diseased test images")
        per_image: dict[str, float] = {}
        skipped = 0
        for i in diseased:
            truth = masks[i]
            n_true = int(np.count_nonzero(truth))
            if n_true == 0:
                skipped += 1
                continue
            values = np.asarray(maps[i], dtype=np.float64)
            if np.isnan(values).any():
                return MetricResult.undefined("cannot threshold the test maps: they contain NaN")
            pred = values > otsu_threshold(values)
            tp = int(np.count_nonzero(pred & truth))
            per_image[test.split.ids[i]] = 2.0 * tp / (int(np.count_nonzero(pred)) + n_true)
        details = {"n_images": len(per_image), "skipped_empty_mask": skipped, "bins": 256}
        if not per_image:
            return MetricResult(
                value=math.nan,
                reason="no diseased test image has an anomalous pixel",
                details=details,
            )
        value = float(np.mean(list(per_image.values())))
        return MetricResult(value=value, per_image=per_image, details=details)


# ---------------------------------------------------------------------------------------------
# pixel level, per image and per region


class PixelAUROCPerImage(_Pixel):
    name = "pixel_auroc_per_image"
    short_name = "pAUROC/img"
    description = (
        "Mean over diseased test images of each image's own pixel AUROC (DeScarGAN's protocol);"
        " images whose mask is empty or full are skipped."
    )

    def _compute(self, test: Scored, val: Scored | None) -> MetricResult:
        masks, maps = _pixel_arrays(test)
        diseased = np.flatnonzero(np.asarray(test.split.labels) == DISEASED)
        if diseased.size == 0:
            return MetricResult.undefined("no diseased test images")
        result = per_image_auroc(masks[diseased], maps[diseased])
        details = {
            "n_images": len(result.values),
            "skipped_empty_mask": result.skipped_no_positive,
            "skipped_full_mask": result.skipped_no_negative,
        }
        if not result.values:
            return MetricResult(
                value=math.nan,
                reason="no diseased test image has both anomalous and normal pixels",
                details=details,
            )
        per_image = {test.split.ids[diseased[i]]: v for i, v in result.values.items()}
        return MetricResult(value=result.mean, per_image=per_image, details=details)


class PixelAUPRO(_Pixel):
    name = "pixel_aupro"
    short_name = "pAUPRO"
    description = (
        "Area under the per-region-overlap curve up to a pixel false-positive rate of 0.3,"
        " divided by 0.3 (MVTec AD; 8-connected ground-truth regions, all test pixels)."
    )
    fpr_limit: ClassVar[float] = 0.3

    def _compute(self, test: Scored, val: Scored | None) -> MetricResult:
        masks, maps = _pixel_arrays(test)
        result = aupro_details(masks, maps, self.fpr_limit)
        details = {"fpr_limit": self.fpr_limit, "n_regions": result.n_regions, "connectivity": 8}
        if result.reason is not None:
            return MetricResult(
                value=math.nan, reason=f"test pixels: {result.reason}", details=details
            )
        return MetricResult(value=float(result.value), details=details)
