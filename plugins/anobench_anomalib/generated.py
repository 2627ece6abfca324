"""anomalib's other image models, wired from anomalib's own constructors.

Each model here is one :class:`Spec` line: its options are read from the signature of its
anomalib ``__init__`` (every argument with a plain default: number, flag, text, enum or a
tuple of names), so anomalib's defaults are the ``paper`` profile and nothing of the model is
written here. What a spec adds is only what the signature cannot say: the training length
anomalib's configs use, the smallest or a required input size, the ``quick`` CPU setting and
the few overrides that keep the contract checks small.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from anobench import ConfigError, Option, RunContext, option_set
from anobench.files import file_sha256
from anobench.weights import (
    BackboneWeights,
    hub_cache,
    is_network_error,
    offline_error,
    read_state_dict,
    timm_cache_file,
)

from .bridge import AnomalibMethod

#: constructor arguments the bridge sets itself (processors, precision) or never exposes
_HIDDEN = {
    "self",
    "pre_processor",
    "post_processor",
    "evaluator",
    "visualizer",
    "precision",
    "pre_trained",
    "input_shape",
    "image_size",
    "batch_size",
}


@dataclass(frozen=True)
class Spec:
    """What anomalib's signature does not say about one model."""

    model_class: str
    description: str
    #: epochs of anomalib's config (None: one pass over the data, then ``fit()``)
    epochs: float | None
    #: the ``quick`` profile (CPU, 2 cores; a smoke setting where the model is a GPU model)
    quick: Mapping[str, Any] | None
    #: overrides that make the contract checks small (tiny backbone, a step or two)
    test: Mapping[str, Any] = field(default_factory=dict)
    #: arguments that name a timm/torchvision network whose weights ``backbone_weights`` sets
    pretrained: bool = True
    #: the input side must be a multiple of this (a ViT's patch size, a network's stride)
    multiple: int = 1
    #: the smallest input side the model accepts
    smallest: int = 8
    #: anomalib's batch size for this model
    batch: int = 32
    #: extra option overrides of ``paper`` (anomalib's config values the signature lacks)
    paper: Mapping[str, Any] = field(default_factory=dict)
    #: constructor arguments hidden from the options, with the value the bridge passes
    fixed: Mapping[str, Any] = field(default_factory=dict)
    #: constructor arguments that follow the input side: ``sized(method, side)``
    sized: Callable[[Any, int], Mapping[str, Any]] | None = None
    #: training steps of anomalib's config where it caps them (EfficientAd: 70,000)
    steps: int | None = None
    #: the method class to derive from, where a model needs more than the generic wiring
    base: type | None = None
    #: passes over the training images of a memory-bank model, each ended by ``fit()``
    passes: int = 1
    #: resize and normalise only (the model's own pre-processor crops or refuses small sides)
    plain_resize: bool = False


@functools.cache
def _parsed(file: Path) -> ast.Module:
    return ast.parse(file.read_text())


def _enum_values(folder: Path, enum_name: str) -> tuple[str, ...]:
    """The string values of enum ``enum_name`` defined in a model's package (read, not run)."""
    for file in sorted(folder.glob("*.py")):
        for node in ast.walk(_parsed(file)):
            if isinstance(node, ast.ClassDef) and node.name == enum_name:
                return tuple(
                    item.value.value
                    for item in node.body
                    if isinstance(item, ast.Assign)
                    and isinstance(item.value, ast.Constant)
                    and isinstance(item.value.value, str)
                )
    return ()


def _option(name: str, node: ast.expr, folder: Path) -> Option | None:
    help_ = f"anomalib's {name}"
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        values = _enum_values(folder, node.value.id)
        member = _enum_member(folder, node.value.id, node.attr)
        if values and member is not None:
            return Option(name, str, member, help_, choices=values)
        return None
    try:
        default = ast.literal_eval(node)
    except ValueError:
        return None
    if isinstance(default, bool):
        return Option(name, bool, default, help_)
    if isinstance(default, int | float):
        return Option(name, type(default), default, help_)
    if isinstance(default, str):
        return Option(name, str, default, help_)
    if isinstance(default, tuple | list) and all(isinstance(v, str | int) for v in default):
        text = ",".join(map(str, default))
        return Option(name, str, text, f"{help_} (comma-separated)")
    if default is None:
        return Option(name, str, None, f"{help_} (none: anomalib's choice)", nullable=True)
    return None


def _enum_member(folder: Path, enum_name: str, member: str) -> str | None:
    for file in sorted(folder.glob("*.py")):
        for node in ast.walk(_parsed(file)):
            if isinstance(node, ast.ClassDef) and node.name == enum_name:
                for item in node.body:
                    if (
                        isinstance(item, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == member for t in item.targets)
                        and isinstance(item.value, ast.Constant)
                    ):
                        return str(item.value.value)
    return None


def _model_source(model_class: str) -> tuple[ast.ClassDef, Path]:
    """anomalib's Lightning class ``model_class``, parsed from its file, never imported.

    Importing ``anomalib.models`` takes seconds (tens of seconds on a busy machine): reading
    the signatures keeps ``anobench list`` fast.
    """
    spec = importlib.util.find_spec("anomalib")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("anomalib is not installed")
    image = Path(next(iter(spec.submodule_search_locations))) / "models" / "image"
    for file in sorted(image.glob("*/lightning_model.py")):
        for node in _parsed(file).body:
            if isinstance(node, ast.ClassDef) and node.name == model_class:
                return node, file.parent
    raise ImportError(f"anomalib has no image model {model_class}")


def constructor_options(model_class: str, hidden: set[str]) -> tuple[list[Option], dict[str, Any]]:
    """The options read from the model's ``__init__`` and, per option, its anomalib default."""
    node, folder = _model_source(model_class)
    init = next(
        (f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None
    )
    if init is None:
        return [], {}
    args = init.args.args + init.args.kwonlyargs
    defaults = [None] * (len(init.args.args) - len(init.args.defaults)) + list(init.args.defaults)
    defaults += list(init.args.kw_defaults)
    options, kinds = [], {}
    for arg, default in zip(args, defaults, strict=True):
        if arg.arg in _HIDDEN | hidden or default is None:
            continue
        option = _option(arg.arg, default, folder)
        if option is not None:
            options.append(option)
            kinds[arg.arg] = _literal(default)
    return options, kinds


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return "enum"


def _back(value: Any, default: Any, name: str = "") -> Any:
    """An option's value as anomalib's constructor takes it (tuples, lists)."""
    if value is None:
        return None
    if default is None and name.endswith("layers"):  # a list whose default anomalib chooses
        parts = [p.strip() for p in str(value).split(",") if p.strip()]
        return [int(p) if p.isdigit() else p for p in parts]
    if isinstance(default, tuple | list):
        parts: list[Any] = [p.strip() for p in str(value).split(",") if p.strip()]
        if default and isinstance(default[0], int):
            parts = [int(p) for p in parts]
        return type(default)(parts)
    return value


class _Random(dict):
    """torchvision's state dict under ``backbone_weights=none``: nothing is loaded."""


@contextmanager
def _pretrained(choice: str, seen: list[tuple[str, str]]) -> Iterator[None]:
    """anomalib's own pretrained networks as ``backbone_weights`` says, each one noted.

    ``timm``: timm and torchvision fetch what the model asks for into their usual caches (the
    Hugging Face cache; torch hub's ``checkpoints``), with their progress bars, or use the copy
    there. ``none``: every network starts at random. A path: the file replaces the download.
    """
    import timm
    import torch
    import torchvision.models._api as tv_api

    create, state, load = (
        timm.create_model,
        tv_api.WeightsEnum.get_state_dict,
        torch.nn.Module.load_state_dict,
    )

    def creating(*args: Any, **kwargs: Any) -> Any:
        name = str(args[0] if args else kwargs.get("model_name"))
        if choice == "none":
            kwargs["pretrained"] = False
        elif kwargs.get("pretrained"):
            seen.append(("timm", name))
            if choice != "timm":
                kwargs["pretrained_cfg_overlay"] = {"file": choice}
        return create(*args, **kwargs)

    def state_dict(self: Any, *args: Any, **kwargs: Any) -> Any:
        if choice == "none":
            return _Random()
        seen.append(("torchvision", self.url))
        if choice != "timm":
            return read_state_dict(Path(choice))
        return state(self, *args, **kwargs)

    def loading(self: Any, sd: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(sd, _Random):
            return None
        return load(self, sd, *args, **kwargs)

    timm.create_model = creating
    tv_api.WeightsEnum.get_state_dict = state_dict
    torch.nn.Module.load_state_dict = loading
    try:
        yield
    finally:
        timm.create_model = create
        tv_api.WeightsEnum.get_state_dict = state
        torch.nn.Module.load_state_dict = load


def _torch_hub_file(url: str) -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


class GeneratedMethod(AnomalibMethod):
    """An anomalib model whose options come from its constructor (see :mod:`.generated`)."""

    spec: ClassVar[Spec]
    _kinds: ClassVar[dict[str, Any]]
    lightning_hooks = True

    def model_kwargs(self) -> dict[str, Any]:
        kwargs = {k: _back(getattr(self, k), d, k) for k, d in self._kinds.items()}
        kwargs.update(self.spec.fixed)
        if self.spec.sized is not None:
            kwargs.update(self.spec.sized(self, self._input_size()))
        return kwargs

    def _weights(self, choice: str) -> BackboneWeights:
        if choice not in ("none", "timm") and not Path(choice).expanduser().is_file():
            raise ConfigError(
                f"option 'backbone_weights': {choice} does not exist; give none, timm or the"
                " path of a local state dict"
            )
        return BackboneWeights(None)  # anomalib's networks load their own (see _pretrained)

    def _creation(self, choice: str) -> Any:
        self._seen: list[tuple[str, str]] = []
        if choice not in ("none", "timm"):
            choice = str(Path(choice).expanduser())
        return _pretrained(choice, self._seen)

    def _build(self, weights: BackboneWeights, seed: int, choice: str = "none") -> Any:
        try:
            return super()._build(weights, seed, choice)
        except ConfigError:
            raise
        except Exception as exc:
            if not is_network_error(exc):
                raise
            kind, what = self._seen[-1] if self._seen else ("timm", self.model_class)
            where = hub_cache() if kind == "timm" else _torch_hub_file(what).parent
            if kind == "timm":
                what = timm_cache_file(what)[0]
            raise offline_error(f"the pretrained weights {what} ({kind})", where) from None

    def _record_weights(self, ctx: RunContext) -> None:
        records = []
        for kind, what in dict.fromkeys(self._seen):
            if self.backbone_weights not in ("none", "timm"):
                path: Path | None = Path(self.backbone_weights).expanduser()
                name = what
            elif kind == "timm":
                name, path = timm_cache_file(what)
            else:
                name, path = what, _torch_hub_file(what)
            sha = file_sha256(path) if path is not None and path.is_file() else None
            records.append({"name": name, "source": f"{kind} {path}", "sha256": sha})
        if records:
            ctx.notes["weights"] = records
            for r in records:
                ctx.progress.log(f"{self.name}: pretrained {r['name']} from {r['source']}")


def _common(spec: Spec) -> list[Option]:
    options = [
        Option(
            "image_size",
            int,
            None,
            "side the pre-processor resizes to (none: the dataset's own size; anomalib's"
            " configs use 256)",
            nullable=True,
            minimum=spec.smallest,
        ),
        Option("batch_size", int, spec.batch, "training batch size", minimum=1),
        Option("predict_batch", int, 32, "images scored together at prediction", minimum=1),
    ]
    if spec.pretrained:
        options.append(
            Option(
                "backbone_weights",
                str,
                "timm",
                "pretrained networks: timm (anomalib's own: timm / torchvision / anomalib"
                " download them into their caches when online), none (random) or the path of a"
                " local state dict for the model's backbone",
            )
        )
    if spec.steps is not None:
        options.append(
            Option(
                "max_steps",
                int,
                spec.steps,
                "training steps, at most (anomalib's config); epochs can end training sooner",
                minimum=1,
            )
        )
    if spec.epochs is not None:
        options += [
            Option("epochs", float, spec.epochs, "passes over the training images", minimum=0.0),
            Option("checkpoint_every", int, 200, "steps between resumable checkpoints", minimum=1),
        ]
    return options


def make_method(name: str, spec: Spec) -> type[GeneratedMethod]:
    """The anobench method class for one anomalib model."""
    own, kinds = constructor_options(spec.model_class, set(spec.fixed))
    profiles: dict[str, dict[str, Any]] = {}
    if spec.quick is not None:
        profiles["quick"] = dict(spec.quick)
    profiles["paper"] = dict(spec.paper)
    # at 32 px where the model allows it, else at the smallest side it works at (the bridge
    # resizes the toy images up to it)
    test = {"image_size": 32 if spec.smallest <= 32 else None, "batch_size": 4, "predict_batch": 4}
    if spec.pretrained:
        test["backbone_weights"] = "none"
    if spec.epochs is not None:
        test["epochs"] = 1.0
    if spec.steps is not None:
        test["max_steps"] = 2
    body = {
        "name": name,
        "description": spec.description,
        "model_class": spec.model_class,
        "memory_bank": spec.epochs is None,
        "size_multiple": spec.multiple,
        "size_minimum": spec.smallest,
        "fit_passes": spec.passes,
        "plain_pre_processor": spec.plain_resize,
        "options": option_set(*_common(spec), *own),
        "profiles": profiles,
        "test_options": {**test, **spec.test},
        "spec": spec,
        "_kinds": kinds,
        "__module__": "anobench_anomalib",
    }
    return type(spec.model_class, (spec.base or GeneratedMethod,), body)
