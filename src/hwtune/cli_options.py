"""A command's options as one typed frozen dataclass.

The dataclass declares the options: each field is `Annotated[T, typer.Option(...)]` with its
default. `command_of(Options, run)` gives typer a function whose parameters are those fields and
which hands `run` one `Options` instance inside `run_command`, so the command is one call.
A repeatable option is a `tuple[str, ...]` field (typer is shown a list, the field gets a tuple).
`PanelledCommand` shows the options in their help panels (`rich_help_panel`) with the plain
help formatter hwtune uses (rich help is off: `cli_root.new_app`).
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

from typer.core import TyperCommand
from typer.models import OptionInfo

from hwtune.cli_common import run_command

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def _typer_hint(hint: Any) -> Any:
    """`Annotated[tuple[str, ...], Option]` -> `Annotated[list[str], Option]`: typer's repeatable form."""
    if get_origin(hint) is not Annotated:
        return hint
    inner, *meta = get_args(hint)
    if get_origin(inner) is tuple:
        repeated = list.__class_getitem__(get_args(inner)[0])  # list[str], built at run time
        return operator.getitem(Annotated, (repeated, *meta))
    return hint


def command_of(options: type[T], run: Callable[[T], int | None]) -> Callable[..., None]:
    """A typer command function taking the fields of `options`, calling `run(options(...))`."""
    hints = get_type_hints(options, include_extras=True)
    params = []
    for f in fields(options):
        default = f.default if f.default is not MISSING else inspect.Parameter.empty
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=_typer_hint(hints[f.name])))

    def command(**values: Any) -> None:
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        run_command(lambda: run(options(**given)))

    # what typer reads, through inspect.signature; typeshed declares no __signature__ on functions
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = options.__doc__
    return command


def option_names(options: type) -> dict[str, str]:
    """Each field's option as the user types it ("budget_usd" -> "--budget"), from its declaration."""
    names = {}
    for name, hint in get_type_hints(options, include_extras=True).items():
        info = next((m for m in get_args(hint)[1:] if isinstance(m, OptionInfo)), None)
        # In Annotated, typer takes Option's first argument as the first option name.
        decls = [d for d in (info.default, *(info.param_decls or ())) if isinstance(d, str)] if info else []
        if decls:
            names[name] = next((d for d in decls if d.startswith("--")), decls[0])
    return names


class PanelledCommand(TyperCommand):
    """A command whose --help lists its options under their panels, in the order declared."""

    # click's Context and HelpFormatter: typer 0.28 vendors click (typer._click), earlier ones import it
    def format_options(self, ctx: Any, formatter: Any) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                panels.setdefault(getattr(param, "rich_help_panel", None) or "Options", []).append(record)
        for title, records in panels.items():
            with formatter.section(title):
                formatter.write_dl(records)
