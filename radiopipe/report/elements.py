"""The building blocks of report sections, rendered by the one template (HTML and PDF)."""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup


@dataclass
class Paragraph:
    """A paragraph of text (escaped unless it is ``Markup``)."""

    text: str | Markup
    style: str = ""  # "", "note", "lead", "small"
    kind: str = "paragraph"


@dataclass
class Cell:
    """A table cell: a value, an optional second line (a CI), alignment and emphasis."""

    value: str
    sub: str = ""
    strong: bool = False


@dataclass
class Table:
    """A booktabs-style table with optional spanning column groups."""

    caption: str
    header: list[str]
    rows: list[list[Cell | str]]
    align: str = ""  # one of l/r/c per column; default: first left, others right
    groups: list[tuple[str, int]] | None = None  # spanning labels over the header
    footnote: str | Markup = ""
    row_styles: list[str] = field(default_factory=list)  # "", "subhead", "best", "muted"
    wide: bool = False
    kind: str = "table"
    number: str = ""  # "Supplementary Table S2", given when the report is assembled

    def alignment(self, column: int) -> str:
        """'l', 'r' or 'c' for a column."""
        if column < len(self.align):
            return self.align[column]
        return "l" if column == 0 else "r"

    def cells(self, row: int) -> list[Cell]:
        """The cells of a row as Cell objects."""
        return [c if isinstance(c, Cell) else Cell(str(c)) for c in self.rows[row]]


@dataclass
class Figure:
    """An embedded image (a data URI) with a caption."""

    uri: str
    caption: str | Markup = ""
    width: str = "100%"
    kind: str = "figure"
    number: str = ""  # "Supplementary Figure S3", given when the report is assembled


@dataclass
class FigureRow:
    """Figures side by side (each takes an equal share of the width)."""

    figures: list[Figure]
    caption: str | Markup = ""
    kind: str = "figure_row"
    number: str = ""  # one number for the row; its figures are panels a, b, ...


@dataclass
class Callout:
    """A highlighted box of key sentences (the first-page summary)."""

    title: str
    lines: list[str | Markup]
    style: str = "key"  # "key" or "warning"
    kind: str = "callout"


@dataclass
class Section:
    """One numbered section of the report; absent sections carry a note instead of blocks."""

    id: str
    title: str
    blocks: list[object] = field(default_factory=list)
    note: str = ""
    page_break: bool = True

    @property
    def present(self) -> bool:
        """True when the section has something to show."""
        return bool(self.blocks)
