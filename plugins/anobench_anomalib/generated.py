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
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anobench import Option, option_set

from .bridge import _EMPTY_DIR, AnomalibMethod

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
    #: the ``quick`` profile (CPU, 2 cores) or None where the model cannot run on a CPU
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
    #: why ``quick`` is missing (no CPU setting)
    no_cpu: str = ""
    #: extra option overrides of ``paper`` (anomalib's config values the signature lacks)
    paper: Mapping[str, Any] = field(default_factory=dict)
    #: constructor arguments hidden from the options, with the value the bridge passes
    fixed: Mapping[str, Any] = field(default_factory=dict)


def _enum_values(folder: Path, enum_name: str) -> tuple[str, ...]:
    """The string values of enum ``enum_name`` defined in a model's package (read, not run)."""
    for file in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(file.read_text())):
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
        for node in ast.walk(ast.parse(file.read_text())):
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
        for node in ast.parse(file.read_text()).body:
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


def _back(value: Any, default: Any) -> Any:
    """An option's value as anomalib's constructor takes it (tuples, lists)."""
    if value is None:
        return None
    if isinstance(default, tuple | list):
        parts: list[Any] = [p.strip() for p in str(value).split(",") if p.strip()]
        if default and isinstance(default[0], int):
            parts = [int(p) for p in parts]
        return type(default)(parts)
    return value


class GeneratedMethod(AnomalibMethod):
    """An anomalib model whose options come from its constructor (see :mod:`.generated`)."""

    spec: Spec
    _kinds: dict[str, Any]

    def model_kwargs(self) -> dict[str, Any]:
        kwargs = {k: _back(getattr(self, k), d) for k, d in self._kinds.items()}
        for key, value in self.spec.fixed.items():
            kwargs[key] = _EMPTY_DIR if value is _EMPTY_DIR else value
        return kwargs


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
    test = {"image_size": 32, "batch_size": 4, "predict_batch": 4}
    if spec.pretrained:
        test["backbone_weights"] = "none"
    if spec.epochs is not None:
        test["epochs"] = 1.0
    body = {
        "name": name,
        "description": spec.description,
        "model_class": spec.model_class,
        "memory_bank": spec.epochs is None,
        "options": option_set(*_common(spec), *own),
        "profiles": profiles,
        "test_options": {**test, **spec.test},
        "spec": spec,
        "_kinds": kinds,
        "__module__": "anobench_anomalib",
    }
    return type(spec.model_class, (GeneratedMethod,), body)
