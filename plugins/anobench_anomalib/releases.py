"""Weights that anomalib downloads from its own GitHub releases (EfficientAd's teacher, DSR's
discrete model), fetched before training where the user sees it, as ``backbone_weights`` says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anobench import ConfigError, RunContext
from anobench.files import file_sha256
from anobench.weights import hub_offline, is_network_error, offline_error


def release_file(method: Any, ctx: RunContext, folder: str, name: str, info: Any) -> Path | None:
    """The file ``name`` (under ``folder``) of anomalib's release ``info``, in anomalib's
    weights cache (``~/.cache/anomalib/pre_trained``): the release unpacks into ``folder``.

    ``backbone_weights``: ``none`` gives None (the network stays random), a path gives that
    file, ``timm`` the cached copy or, online, anomalib's download with its progress bar.
    """
    choice = method.backbone_weights
    base = Path(name).name
    what = f"the weights {base} ({method.model_class}, anomalib's release)"
    if choice == "none":
        ctx.progress.log(f"{method.name}: {base} not loaded (backbone_weights=none): random")
        return None
    if choice != "timm":
        file = Path(choice).expanduser()
        if not file.is_file():
            raise ConfigError(
                f"{method.owner()}: option 'backbone_weights': {file} does not exist; give"
                f" none, timm or the path of {base}"
            )
        return file
    from anomalib.utils.path import get_pretrained_weights_dir

    root = get_pretrained_weights_dir() / folder
    file = root / name
    if file.is_file():
        return file
    if hub_offline():
        raise offline_error(what, root)
    from anomalib.data.utils import download_and_extract

    ctx.progress.log(f"{method.name}: downloading {what} into {root}")
    try:
        download_and_extract(root, info)
    except Exception as exc:
        if is_network_error(exc):
            raise offline_error(what, root) from None
        raise
    return file


def record(file: Path, part: str) -> dict[str, str]:
    """What a run's provenance says of a weights file it loaded."""
    return {"name": file.name, "source": str(file), "sha256": file_sha256(file), "part": part}
