"""Render the report: one Jinja2 template gives the HTML, WeasyPrint turns the same HTML into
the PDF, pdftoppm renders PDF pages to PNG (optional). Nothing is fetched from outside: the
CSS is inlined and every image is a ``data:`` URI; the PDF renderer refuses any other URL."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from radiopipe.atomic import atomic_path
from radiopipe.errors import RadiopipeError

log = logging.getLogger(__name__)

TEMPLATE = "report.html.j2"


def _environment() -> object:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("radiopipe.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def stylesheet() -> str:
    """The report's CSS (inlined into the HTML)."""
    return resources.files("radiopipe.report").joinpath("static", "report.css").read_text("utf-8")


def render_html(context: dict[str, Any]) -> str:
    """The complete, self-contained HTML document."""
    template = _environment().get_template(TEMPLATE)  # type: ignore[attr-defined]
    return template.render(css=stylesheet(), **context)


def _fetcher() -> object:
    """A URL fetcher that resolves ``data:`` URIs only; the report never needs anything else."""
    try:
        from weasyprint.urls import URLFetcher  # WeasyPrint >= 70
    except ImportError:
        return _legacy_fetcher
    return URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)


def _legacy_fetcher(url: str, *args: object, **kwargs: object) -> dict:
    if not url.startswith("data:"):
        raise ValueError(f"the report refers to an external resource: {url[:80]}")
    from weasyprint.urls import default_url_fetcher

    return default_url_fetcher(url, *args, **kwargs)


class PdfUnavailable(RadiopipeError):
    """WeasyPrint cannot be loaded (not installed, or its system library Pango is missing)."""


def _weasyprint_html() -> type:
    """WeasyPrint's HTML class; PdfUnavailable naming the cause when it cannot load."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as err:  # OSError: Pango (libpango/libpangoft2) missing
        raise PdfUnavailable(
            f"cannot write the PDF: WeasyPrint is not usable ({err}); install Pango "
            "(Debian/Ubuntu: apt-get install libpango-1.0-0 libpangoft2-1.0-0; macOS: brew "
            "install pango), or ask for --format html"
        ) from None
    return HTML


def write_pdf(html: str, path: Path) -> Path:
    """Typeset the HTML into a PDF with WeasyPrint (written atomically); PdfUnavailable when
    WeasyPrint cannot load."""
    HTML = _weasyprint_html()
    noisy = [logging.getLogger(name) for name in ("fontTools", "weasyprint")]
    levels = [logger.level for logger in noisy]
    for logger in noisy:
        logger.setLevel(logging.WARNING)
    try:
        with atomic_path(path) as tmp:
            HTML(string=html, url_fetcher=_fetcher()).write_pdf(tmp)
    finally:
        for logger, level in zip(noisy, levels, strict=True):
            logger.setLevel(level)
    return path


def render_pages(pdf: Path, folder: Path, dpi: int = 100) -> tuple[list[Path], str]:
    """PNG images of every PDF page (pdftoppm); ([], reason) when pdftoppm is missing."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        return [], "pdftoppm (poppler-utils) is not installed: page images skipped"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pages.", dir=folder.parent) as tmp:
        result = subprocess.run(
            [tool, "-png", "-r", str(dpi), str(pdf), str(Path(tmp) / "page")],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            return [], f"pdftoppm failed ({result.stderr.strip()[:200]}): page images skipped"
        for old in folder.glob("page-*.png"):
            old.unlink()
        pages = []
        for made in sorted(Path(tmp).glob("page-*.png"), key=_page_number):
            target = folder / f"page-{_page_number(made):03d}.png"
            os.replace(made, target)
            pages.append(target)
    return pages, ""


def _page_number(path: Path) -> int:
    return int(path.stem.rsplit("-", 1)[-1])
