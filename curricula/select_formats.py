"""Format selection: keep the records of the named formats (rewriter names, any version)."""

from __future__ import annotations

from curricula.base import Context, Filter
from joule.errors import JouleError
from joule.records import FORMAT_FIELDS, format_name


class SelectFormats(Filter):
    """Keep records whose format (e.g. `qa_extractive` for `qa_extractive.v1`) is in `include`
    (all formats when null) and not in `exclude`."""

    def __init__(self, include: list[str] | None = None, exclude: list[str] | None = None,
                 name: str | None = None):
        super().__init__(name)
        unknown = sorted((set(include or []) | set(exclude or [])) - set(FORMAT_FIELDS))
        if unknown:
            raise JouleError(f"select_formats: unknown format(s) {unknown} "
                             f"(known: {sorted(FORMAT_FIELDS)})")
        self.include = set(include) if include is not None else None
        self.exclude = set(exclude or [])

    def filter(self, record: dict, ctx: Context) -> bool | tuple:
        name = format_name(record["format"])
        if (self.include is None or name in self.include) and name not in self.exclude:
            return True
        return False, "format_not_selected", name
