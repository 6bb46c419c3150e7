"""Read and write volumes (NIfTI, NRRD, MHA, DICOM series) and compare their geometry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radiopipe.atomic import atomic_path
from radiopipe.errors import InputError
from radiopipe.hashing import file_sha256 as file_sha256  # re-export (imaging.file_sha256)

VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")

# Geometry tolerances: spacing and direction relative/absolute, origin in millimetres.
SPACING_RTOL = 1e-4
ORIGIN_ATOL_MM = 1e-3
DIRECTION_ATOL = 1e-4


@dataclass(frozen=True)
class Header:
    """What a volume's header says, read without loading voxels where the format allows."""

    size: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]
    dimension: int
    pixel_type: str
    components: int

    @property
    def is_float(self) -> bool:
        """True if voxels are floating point (and so may hold NaN or Inf)."""
        return "float" in self.pixel_type.lower()


def is_dicom_series_dir(path: Path) -> bool:
    """True if ``path`` is a folder holding at least one DICOM series."""
    return path.is_dir() and bool(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(path)))


def _dicom_files(path: Path) -> list[str]:
    series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(path))
    if not series:
        raise InputError("folder holds no DICOM series", file=path)
    if len(series) > 1:
        raise InputError(
            f"folder holds {len(series)} DICOM series ({', '.join(series)}); "
            "give each series its own folder",
            file=path,
        )
    return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path), series[0]))


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputError("file does not exist", file=path)


def read_image(path: str | Path, patient: str | None = None) -> sitk.Image:
    """Read a volume file or a DICOM series folder; errors name the patient and file."""
    path = Path(path)
    try:
        _check_exists(path)
        if path.is_dir():
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(_dicom_files(path))
            return reader.Execute()
        return sitk.ReadImage(str(path))
    except InputError as err:
        raise InputError(err.problem, patient=patient, file=path) from None
    except RuntimeError as err:
        raise InputError(
            f"unreadable volume ({_first_line(err)})", patient=patient, file=path
        ) from None


def read_header(path: str | Path, patient: str | None = None) -> Header:
    """Read a volume's geometry and pixel type without reading its voxels (where possible)."""
    path = Path(path)
    try:
        _check_exists(path)
        if path.is_dir():
            return _dicom_series_header(_dicom_files(path))
        return _file_header(str(path))
    except InputError as err:
        raise InputError(err.problem, patient=patient, file=path) from None
    except RuntimeError as err:
        raise InputError(
            f"unreadable header ({_first_line(err)})", patient=patient, file=path
        ) from None


def _file_header(file: str) -> Header:
    reader = sitk.ImageFileReader()
    reader.SetFileName(file)
    reader.ReadImageInformation()
    return Header(
        size=tuple(int(s) for s in reader.GetSize()),
        spacing=tuple(reader.GetSpacing()),
        origin=tuple(reader.GetOrigin()),
        direction=tuple(reader.GetDirection()),
        dimension=reader.GetDimension(),
        pixel_type=sitk.GetPixelIDValueAsString(reader.GetPixelID()),
        components=reader.GetNumberOfComponents(),
    )


def _dicom_series_header(files: list[str]) -> Header:
    """A series' 3-D geometry from the headers of its first two slices (as the series reader)."""
    first = _file_header(files[0])
    if len(files) < 2:
        return first
    second = _file_header(files[1])
    step = np.subtract(second.origin, first.origin)
    distance = float(np.linalg.norm(step))
    direction = np.array(first.direction, dtype=float).reshape(3, 3)
    if distance > 0:
        direction[:, 2] = step / distance
    return Header(
        size=(*first.size[:2], len(files)),
        spacing=(*first.spacing[:2], distance or first.spacing[2]),
        origin=first.origin,
        direction=tuple(direction.ravel()),
        dimension=3,
        pixel_type=first.pixel_type,
        components=first.components,
    )


def header_of(image: sitk.Image) -> Header:
    """The header of an image already in memory."""
    return Header(
        size=tuple(image.GetSize()),
        spacing=tuple(image.GetSpacing()),
        origin=tuple(image.GetOrigin()),
        direction=tuple(image.GetDirection()),
        dimension=image.GetDimension(),
        pixel_type=image.GetPixelIDTypeAsString(),
        components=image.GetNumberOfComponentsPerPixel(),
    )


def geometry_mismatches(a: Header, b: Header) -> list[str]:
    """Describe each way two volumes' grids disagree (size, spacing, origin, direction)."""
    problems = []
    if a.size != b.size:
        problems.append(f"size {a.size} vs {b.size}")
    if len(a.spacing) != len(b.spacing) or not np.allclose(
        a.spacing, b.spacing, rtol=SPACING_RTOL, atol=0
    ):
        problems.append(f"spacing {_fmt(a.spacing)} vs {_fmt(b.spacing)}")
    if len(a.origin) != len(b.origin) or not np.allclose(
        a.origin, b.origin, rtol=0, atol=ORIGIN_ATOL_MM
    ):
        problems.append(f"origin {_fmt(a.origin)} vs {_fmt(b.origin)}")
    if len(a.direction) != len(b.direction) or not np.allclose(
        a.direction, b.direction, rtol=0, atol=DIRECTION_ATOL
    ):
        problems.append("direction cosines differ")
    return problems


def nonfinite_counts(path: str | Path, patient: str | None = None) -> tuple[int, int]:
    """Numbers of NaN and infinite voxels stored in a volume file.

    SimpleITK's NIfTI reader replaces NaN and Inf by 0, so NIfTI voxels are read with nibabel.
    """
    path = Path(path)
    if path.name.endswith((".nii", ".nii.gz")):
        import nibabel as nib

        try:
            voxels = np.asanyarray(nib.load(str(path)).dataobj)
        except Exception as err:  # nibabel raises many types for corrupt files
            raise InputError(f"unreadable volume ({err})", patient=patient, file=path) from None
    else:
        voxels = sitk.GetArrayFromImage(read_image(path, patient=patient))
    if not np.issubdtype(voxels.dtype, np.floating):
        return 0, 0
    return int(np.isnan(voxels).sum()), int(np.isinf(voxels).sum())


def write_image(image: sitk.Image, path: str | Path, compress: bool = True) -> Path:
    """Write a volume atomically; the format follows the file suffix."""
    path = Path(path)
    if not path.name.endswith(VOLUME_SUFFIXES):
        raise ValueError(f"{path}: unsupported volume suffix; use one of {VOLUME_SUFFIXES}")
    with atomic_path(path) as tmp:
        sitk.WriteImage(image, str(tmp), useCompression=compress)
    return path


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def _first_line(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    # ITK messages start with a file:line location; the last line is the useful description.
    return lines[-1] if lines else type(err).__name__
