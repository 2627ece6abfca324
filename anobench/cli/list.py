"""``anobench list``: the installed datasets, methods and metrics, found through entry points."""

from __future__ import annotations

from typing import Any

import click

from ..api import registry
from ..results.labels import fmt_value
from ..run.profiles import option_values
from .common import console, print_json


def _describe_plugin(kind: str, plugin: registry.PluginInfo) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": kind,
        "name": plugin.name,
        "distribution": plugin.distribution,
        "version": plugin.version,
        "status": plugin.status,
        "error": plugin.error,
    }
    if row["status"] == "ok":
        obj = plugin.load()
        row["description"] = getattr(obj, "description", "") or (obj.__doc__ or "").strip()
        if kind == "method":
            row["supervision"] = getattr(obj, "supervision", None)
            row["profiles"] = list(getattr(obj, "profiles", {}))
        if kind == "dataset":
            row["primary_metric"] = getattr(obj, "primary_metric", None)
            row["key_metrics"] = list(getattr(obj, "key_metrics", ()) or ())
            row["profiles"] = list(getattr(obj, "profiles", {}))
        if kind == "metric":
            row["level"] = getattr(obj, "level", None)
            row["short_name"] = getattr(obj, "short_name", "") or None
            row["oracle"] = getattr(obj, "oracle", False)
        if kind in ("method", "dataset"):
            by_profile = option_values(obj)
            row["options"] = {
                o.name: {
                    "type": o.type.__name__,
                    "default": o.default,
                    "help": o.help,
                    # a profile that does not resolve shows its error under every option
                    "profiles": {
                        p: v if isinstance(v, str) else v[o.name] for p, v in by_profile.items()
                    },
                }
                for o in obj.options.options
            }
    return row


def _options_table(row: dict[str, Any]) -> Any:
    """One plugin's options with their value in every profile (the defaults where it has none)."""
    from rich.markup import escape
    from rich.table import Table

    first = next(iter(row["options"].values()))
    profiles = list(first["profiles"]) or ["default"]
    table = Table(
        title=f"{row['kind']} {row['name']}: options",
        caption="anobench run uses the quick profile unless --profile names another"
        if "quick" in profiles
        else None,
        caption_justify="left",
    )
    for col in ("option", "type", *profiles, "description"):
        table.add_column(col, overflow="fold")
    for name, option in row["options"].items():
        values = option["profiles"] or {"default": option["default"]}
        cells = [fmt_value(values[p]) for p in profiles]
        table.add_row(name, option["type"], *map(escape, cells), escape(option["help"]))
    return table


_STATUS = {
    "ok": "[green]ok[/green]",
    "broken": "[red]broken[/red]",
    "needs-extra": "[yellow]needs extra[/yellow]",
}


@click.command("list")
@click.argument("pattern", default="*")
@click.option("--kind", type=click.Choice(registry.KINDS), multiple=True, help="Only this kind.")
@click.option("--format", "fmt", type=click.Choice(["rich", "json"]), default="rich")
@click.option("--options", "show_options", is_flag=True, help="Also list each plugin's options.")
def command(pattern: str, kind: tuple[str, ...], fmt: str, show_options: bool) -> None:
    """Installed datasets, methods and metrics (found through entry points); PATTERN may use *."""
    rows = [
        _describe_plugin(k, p)
        for k in (kind or registry.KINDS)
        for p in registry.available(k, pattern)
    ]
    if fmt == "json":
        print_json(rows)
        return
    from rich.markup import escape
    from rich.table import Table

    out = console()
    for k in kind or registry.KINDS:
        table = Table(title=f"{k}s")
        for col in ("name", "status", "distribution", "details"):
            table.add_column(col, overflow="fold")
        for row in (r for r in rows if r["kind"] == k):
            if row["status"] == "needs-extra":
                # the fix on one line: "needs pip install ..." without the kind and name
                details = f"[yellow]{escape(row['error'].split(' ', 2)[2])}[/yellow]"
            elif row["status"] != "ok":
                details = f"[red]{escape(row['error'])}[/red]"
            else:
                details = row.get("description", "")
                extra = [
                    f"{key}: {row[key]}"
                    for key in ("supervision", "primary_metric", "level", "short_name")
                    if row.get(key)
                ]
                if row.get("key_metrics"):
                    extra.append(f"key_metrics: {', '.join(row['key_metrics'])}")
                if row.get("profiles"):
                    extra.append(f"profiles: {', '.join(row['profiles'])}")
                details = "\n".join([details, *extra]) if extra else details
            status = _STATUS[row["status"]]
            table.add_row(row["name"], status, f"{row['distribution']} {row['version']}", details)
        out.print(table)
        if show_options:
            for row in rows:
                if row["kind"] == k and row.get("options"):
                    out.print(_options_table(row))
