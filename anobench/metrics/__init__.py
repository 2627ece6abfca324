"""Metrics: an exact, fast functional API (numpy in, Python float out) and the metric plugins.

Functional API (see :mod:`anobench.metrics.ranking` and :mod:`anobench.metrics.regions`):

* :func:`roc_auc`, :func:`average_precision`, :func:`ranking_metrics` (both from one sort):
  exact, equal to scikit-learn's ``roc_auc_score`` / ``average_precision_score``, ties included;
* :func:`best_dice`, :func:`dice_at`: pooled Dice at the best threshold / a given threshold;
* :func:`best_balanced_accuracy_threshold`: image threshold selection on validation data;
* :func:`aupro`: MVTec AD's area under the per-region-overlap curve up to FPR 0.3;
* :func:`per_image_auroc`: DeScarGAN's per-image pixel AUROC;
* :func:`single_class_reason`: why a two-class metric is NaN for given labels.

The plugin classes (``ImageAUROC``, ``PixelDice``, ...) live in :mod:`anobench.metrics.builtin`
and are registered as ``anobench.metrics`` entry points.
"""

from .ranking import (
    BestDice,
    BestThreshold,
    RankedScores,
    RankingScores,
    ScoreError,
    average_precision,
    best_balanced_accuracy_threshold,
    best_dice,
    dice_at,
    ranking_metrics,
    roc_auc,
    single_class_reason,
)
from .regions import AuproResult, PerImageAUROC, aupro, aupro_details, per_image_auroc

__all__ = [
    "AuproResult",
    "BestDice",
    "BestThreshold",
    "PerImageAUROC",
    "RankedScores",
    "RankingScores",
    "ScoreError",
    "aupro",
    "aupro_details",
    "average_precision",
    "best_balanced_accuracy_threshold",
    "best_dice",
    "dice_at",
    "per_image_auroc",
    "ranking_metrics",
    "roc_auc",
    "single_class_reason",
]
