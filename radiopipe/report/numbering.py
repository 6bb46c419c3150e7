"""Number the report's tables and figures in reading order ("Supplementary Table S2",
"Supplementary Figure S3", or "Table 2" / "Figure 3" outside a supplement) and write each
figure to report/figures/ under its number."""

from __future__ import annotations

import re
import string

from markupsafe import Markup

from radiopipe.report.elements import Figure, FigureRow, Section, Table
from radiopipe.report.figure_files import FigureFiles

_TAGS = re.compile(r"<[^>]+>")


def _plain(text: str | Markup) -> str:
    return _TAGS.sub("", str(text))


def number_blocks(
    sections: list[Section], supplement: bool = True, files: FigureFiles | None = None
) -> dict[str, int]:
    """Give every table and figure of the shown sections its number (in place); write the
    figures' files. Returns the counts {"tables": n, "figures": m}."""
    table_label = "Supplementary Table S" if supplement else "Table "
    figure_label = "Supplementary Figure S" if supplement else "Figure "
    stem_prefix = "figure-S" if supplement else "figure-"
    tables = figures = 0
    for section in sections:
        if not section.present:
            continue
        for block in section.blocks:
            if isinstance(block, Table):
                tables += 1
                block.number = f"{table_label}{tables}"
            elif isinstance(block, Figure):
                figures += 1
                block.number = f"{figure_label}{figures}"
                if files is not None:
                    files.write(
                        block.uri, f"{stem_prefix}{figures}", block.number, _plain(block.caption)
                    )
            elif isinstance(block, FigureRow):
                figures += 1
                block.number = f"{figure_label}{figures}"
                panels = block.figures
                for letter, panel in zip(string.ascii_lowercase, panels, strict=False):
                    suffix = letter if len(panels) > 1 else ""
                    if files is not None:
                        caption = " ".join(
                            t for t in (_plain(block.caption), _plain(panel.caption)) if t
                        )
                        files.write(
                            panel.uri,
                            f"{stem_prefix}{figures}{suffix}",
                            f"{block.number}{suffix}",
                            caption,
                        )
    return {"tables": tables, "figures": figures}
