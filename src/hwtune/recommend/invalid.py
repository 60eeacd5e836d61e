"""The error of a request the engine cannot answer: it names the request's field, never a CLI option.

A caller that takes the request from its own options (the `recommend` command's `--budget` for
`budget_usd`) spells the fields its own way with `message_with`; `str()` names the fields as
the Request does.
"""

from __future__ import annotations

from collections.abc import Mapping

from hwtune.errors import ConfigError


class InvalidRequest(ConfigError):
    """`field` is at fault. `template` is its message, which may name other fields as `{field}`
    and the values it shows as `{name}` (given in `values`, so that a user's text is never read as
    a template)."""

    def __init__(self, field: str, template: str, subject: str = "", **values: object) -> None:
        self.field = field
        self.template = template
        self.subject = subject  # shown after the field's name: "--model my.onnx: ..."
        self.values = values
        super().__init__(self.message_with({}))

    def message_with(self, names: Mapping[str, str]) -> str:
        """The message with each field named as `names` spells it; a field not in `names` is
        named as the Request names it."""
        head = names.get(self.field, self.field) + (f" {self.subject}" if self.subject else "")
        return f"{head}: " + self.template.format_map(_Words(self.values, names))


class _Words(dict[str, object]):
    def __init__(self, values: Mapping[str, object], names: Mapping[str, str]) -> None:
        super().__init__(values)
        self.names = names

    def __missing__(self, key: str) -> str:
        return self.names.get(key, key.replace("_", " "))
