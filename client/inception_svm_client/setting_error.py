"""A refused setting, told by the field that holds it, so each front end can name it its way.

A config dataclass is used from Python (where the setting is the field ``duration_s``) and
from the CLI (where it is the flag ``--duration``). The dataclass words its error with field
names only; a front end renames them through one table of its own (the CLI's is in
``commands/options.py``), so neither wording leaks into the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter


class SettingError(ValueError):
    """A config value that cannot be used; ``str()`` names the fields.

    ``template`` is a ``str.format`` pattern: ``{name}`` is filled from ``values`` (what the
    caller gave, never parsed as a pattern itself), any other ``{field}`` is a setting, named
    by ``worded``. ``fields`` lists those settings in order of mention."""

    def __init__(self, template: str, **values: object) -> None:
        self.template = template
        self.values = values
        self.fields = tuple(
            name for _, name, _, _ in Formatter().parse(template) if name and name not in values
        )
        super().__init__(self.worded({}))

    def worded(self, names: Mapping[str, str]) -> str:
        """The message with each field renamed by ``names`` (kept as is when absent)."""
        return self.template.format(
            **{field: names.get(field, field) for field in self.fields}, **self.values
        )


def worded(error: ValueError, names: Mapping[str, str]) -> str:
    """Any ValueError's message, a SettingError's with its fields renamed by ``names``: what
    a front end prints for a config it refused."""
    return error.worded(names) if isinstance(error, SettingError) else str(error)
