"""anomalib's DSR: its discrete latent model comes from anomalib's release, fetched before
training (see :mod:`.releases`); ``backbone_weights=none`` leaves it random (a smoke run)."""

from __future__ import annotations

from pathlib import Path

from anobench import RunContext, Split

from .generated import GeneratedMethod, Spec
from .releases import record, release_file


class DsrMethod(GeneratedMethod):
    """DSR with its pretrained discrete model prepared by anobench."""

    def _train(self, train: Split, n: int, ctx: RunContext) -> None:
        from anomalib.models.image.dsr.lightning_model import WEIGHTS_DOWNLOAD_INFO

        file = release_file(self, ctx, "dsr", WEIGHTS_DOWNLOAD_INFO.name, WEIGHTS_DOWNLOAD_INFO)
        module = self.module_
        module.prepare_pretrained_model = lambda: file
        if file is None:  # the discrete model stays as initialised
            module.model.load_pretrained_discrete_model_weights = lambda *args, **kwargs: None
        else:
            ctx.notes["weights"] = [record(Path(file), "discrete latent model")]
            ctx.progress.log(f"{self.name}: pretrained discrete model {file}")
        super()._train(train, n, ctx)

    def _record_weights(self, ctx: RunContext) -> None:
        """Recorded in :meth:`_train`, once the file is known."""


SPEC = Spec(
    "Dsr",
    "anomalib DSR (Zavrtanik et al. 2022): a pretrained discrete latent space, anomalies"
    " simulated in it, an object-specific decoder and a detection module, then an upsampling"
    " module trained on image-level smudges; map = detection mask",
    # anomalib ships no config for DSR: 100 epochs is anobench's choice (70 % of them train the
    # decoder and detection module, the rest the upsampling module)
    epochs=100.0,
    # a smoke setting: a random discrete model, one epoch of each phase (a GPU model: about
    # 270 GFLOPs per 256 px image)
    quick={"backbone_weights": "none", "epochs": 2.0},
    test={"epochs": 2.0},  # one epoch of each phase
    # its networks halve the side five times and normalise each map (instance norm)
    multiple=32,
    smallest=64,
    batch=8,
    base=DsrMethod,
)
