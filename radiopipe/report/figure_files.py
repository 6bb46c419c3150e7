"""Every report figure also as separate files a journal accepts: ``report/figures/`` holds
``figure-S<n>.pdf`` (vector for matplotlib figures), ``.png`` and ``.tiff`` (LZW) at 300 dpi,
one file per panel (``figure-S<n>a``...) for side-by-side figures, and ``index.csv`` (file,
number, caption). Matplotlib figures are kept open from drawing until they are numbered;
images read from the run (SHAP plots, overlays) are converted with Pillow."""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from radiopipe.atomic import atomic_path, write_csv

log = logging.getLogger(__name__)

INDEX = "index.csv"


@dataclass
class FigureFiles:
    """Figures waiting for their number, then written under ``folder``."""

    folder: Path
    formats: tuple[str, ...] = ("pdf", "png", "tiff")
    dpi: int = 300
    held: dict[str, object] = field(default_factory=dict)  # data URI -> open matplotlib figure
    index: list[dict[str, str]] = field(default_factory=list)

    def hold(self, uri: str, fig: object) -> None:
        """Keep a drawn figure until :meth:`write` gives it its file name."""
        self.held[uri] = fig

    def start(self) -> None:
        """Remove the files of an earlier report (numbers may have changed)."""
        if self.folder.is_dir():
            for old in self.folder.glob("figure-S*.*"):
                old.unlink()
            for old in self.folder.glob("figure-[0-9]*.*"):
                old.unlink()

    def write(self, uri: str, stem: str, number: str, caption: str) -> list[Path]:
        """Write one figure (or panel) as ``stem.<format>``; the files written."""
        if not self.formats:
            return []
        self.folder.mkdir(parents=True, exist_ok=True)
        fig = self.held.pop(uri, None)
        written = self._matplotlib(fig, stem) if fig is not None else self._image(uri, stem)
        for path in written:
            self.index.append({"file": path.name, "number": number, "caption": caption.strip()})
        return written

    def _matplotlib(self, fig: object, stem: str) -> list[Path]:
        import matplotlib.pyplot as plt

        written = []
        try:
            for fmt in self.formats:
                path = self.folder / f"{stem}.{fmt}"
                options = {"pil_kwargs": {"compression": "tiff_lzw"}} if fmt == "tiff" else {}
                with atomic_path(path) as tmp:
                    fig.savefig(  # type: ignore[attr-defined]
                        tmp, format=fmt, dpi=self.dpi, bbox_inches="tight", facecolor="white",
                        **options,
                    )  # fmt: skip
                written.append(path)
        finally:
            plt.close(fig)
        return written

    def _image(self, uri: str, stem: str) -> list[Path]:
        """A raster image embedded from the run (PNG/JPEG) in each format; SVG as is."""
        header, _, data = uri.partition(",")
        raw = base64.b64decode(data)
        if "svg" in header:
            path = self.folder / f"{stem}.svg"
            with atomic_path(path) as tmp:
                tmp.write_bytes(raw)
            return [path]
        from PIL import Image

        written = []
        with Image.open(io.BytesIO(raw)) as image:
            rgb = image.convert("RGB")
            for fmt in self.formats:
                path = self.folder / f"{stem}.{fmt}"
                options: dict = {"resolution": float(self.dpi)} if fmt == "pdf" else {}
                if fmt == "tiff":
                    options = {"compression": "tiff_lzw", "dpi": (self.dpi, self.dpi)}
                elif fmt == "png":
                    options = {"dpi": (self.dpi, self.dpi)}
                with atomic_path(path) as tmp:
                    rgb.save(tmp, format=fmt.upper() if fmt != "tiff" else "TIFF", **options)
                written.append(path)
        return written

    def finish(self) -> Path | None:
        """Close figures never numbered; write ``index.csv``."""
        import matplotlib.pyplot as plt

        for fig in self.held.values():
            plt.close(fig)
        self.held.clear()
        if not self.index:
            return None
        return write_csv(self.folder / INDEX, pd.DataFrame(self.index), index=False)
