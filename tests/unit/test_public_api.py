"""The top of ``anobench``: a short list grouped by what an author writes, and the names that
left it still importable for one release, with a warning that says where they went."""

from __future__ import annotations

import warnings

import pytest

import anobench
import anobench.files
import anobench.weights

#: the 67 names ``anobench`` exported before the second pass (plus ``__version__``)
BEFORE = [
    "DISEASED",
    "HEALTHY",
    "IMAGE_EXTENSIONS",
    "RESIZES",
    "SPLITS",
    "AnobenchError",
    "BackboneWeights",
    "Batches",
    "Budget",
    "ConfigError",
    "DataError",
    "Dataset",
    "EpochSampler",
    "FileDataset",
    "FileEntry",
    "FileListing",
    "Method",
    "MethodFailure",
    "Metric",
    "MetricResult",
    "MissingExtra",
    "Option",
    "OptionSet",
    "PluginError",
    "Precision",
    "Predictions",
    "Reporter",
    "RunContext",
    "RunRecord",
    "RunSpec",
    "ScaledImages",
    "Scored",
    "Split",
    "Stage",
    "StoreError",
    "Trainer",
    "TrainingDiverged",
    "Values",
    "__version__",
    "build_folder",
    "cap_options",
    "channels_last_option",
    "decode_all",
    "file_sha256",
    "gaussian_blur",
    "image_stem",
    "inside_root",
    "load_backbone_weights",
    "open_cache",
    "option_set",
    "precision_option",
    "publish_folder",
    "read_image",
    "read_state_dict",
    "rejected_rows",
    "require_extra",
    "resolve_backbone_weights",
    "root_folder",
    "seed_everything",
    "skipped_files",
    "square_image",
    "square_mask",
    "steps_for_epochs",
    "to_device",
    "to_gray",
    "unit_to_gray",
    "walk_images",
    "workers_from_env",
]


def test_the_top_level_is_short_and_every_name_in_it_resolves_without_a_warning():
    assert len(anobench.__all__) <= 32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in anobench.__all__:
            getattr(anobench, name)
        for module in (anobench.files, anobench.weights):
            for name in module.__all__:
                getattr(module, name)


@pytest.mark.parametrize("name", sorted(set(BEFORE) - set(anobench.__all__)))
def test_a_name_that_left_still_works_and_says_where_it_went(name):
    with pytest.warns(DeprecationWarning, match=rf"anobench\.{name} is deprecated") as caught:
        value = getattr(anobench, name)
    new_place = str(caught[0].message).rsplit("use ", 1)[1]
    module, _, attr = new_place.rpartition(".")
    assert attr == name
    assert getattr(__import__(module, fromlist=[attr]), attr) is value


def test_an_unknown_name_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        anobench.Nope  # noqa: B018
