"""``radiopipe synth`` through the CLI: a cohort that validates, argument errors, preview."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radiopipe.config.synth import parse_site_list, parse_sites
from radiopipe.errors import ConfigError

USER_ERROR = 2


def test_synth_then_validate_exits_zero(cli, tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    png = tmp_path / "preview.png"
    result = cli(
        "synth", "--out", out, "--sites", "A:4,C:3", "--seed", 1, "--size", "tiny",
        "--external-sites", "C", "--workers", 1, "--preview", png,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "external_test" in result.output
    table = pd.read_csv(out / "manifest.csv")
    assert table["site"].tolist() == ["A"] * 4 + ["C"] * 3
    assert (table.loc[table["site"] == "C", "split"] == "external_test").all()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli("validate", out / "manifest.csv").exit_code == 0
    # Re-running the same command resumes (nothing to render) and succeeds.
    again = cli("synth", "--out", out, "--sites", "A:4,C:3", "--seed", 1, "--size", "tiny",
                "--external-sites", "C", "--workers", 1)  # fmt: skip
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sites", "A300"], "is not SITE:COUNT"),
        (["--sites", "A:x"], "is not a number"),
        (["--sites", "A:3,A:4"], "given twice"),
        (["--sites", "A:1,B:5"], "site 'A' has 1 patient"),
        (["--sites", "A:3", "--external-sites", "B"], "external site(s) B not among"),
        (["--sites", "A:3", "--size", "huge"], "allowed values"),
        (["--sites", "A:3", "--positive-fraction", "1.5"], "positive_fraction"),
        (["--sites", "A:3", "--workers", "-1"], "Invalid value for --workers: must be 0 or more"),
    ],
)
def test_argument_errors_are_clear(cli, tmp_path: Path, args: list[str], message: str) -> None:
    result = cli("synth", "--out", tmp_path / "c", *args)
    assert result.exit_code == USER_ERROR
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "c" / "manifest.csv").exists()


def test_refuses_a_folder_that_is_not_a_synthetic_cohort(cli, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("precious\n")
    result = cli("synth", "--out", tmp_path, "--sites", "A:2", "--size", "tiny")
    assert result.exit_code == USER_ERROR
    assert "holds no synthetic cohort" in " ".join(result.output.split())
    assert (tmp_path / "data.csv").read_text(encoding="utf-8") == "precious\n"


def test_help_shows_the_library_defaults(cli) -> None:
    from radiopipe.cli import synth as command
    from radiopipe.config.synth import DEFAULT_EFFECT_SIZE, DEFAULT_POSITIVE_FRACTION

    assert float(command.EFFECT_SIZE_DEFAULT_TEXT) == DEFAULT_EFFECT_SIZE
    assert float(command.POSITIVE_FRACTION_DEFAULT_TEXT) == DEFAULT_POSITIVE_FRACTION
    assert "--effect-size" in cli("synth", "--help").output


def test_site_parsers() -> None:
    assert parse_sites(" A:300 , B:60 ") == {"A": 300, "B": 60}
    assert parse_site_list(None) is None
    assert parse_site_list("none") == [] and parse_site_list("B,C") == ["B", "C"]
    with pytest.raises(ConfigError, match="SITE:COUNT"):
        parse_sites("")
    with pytest.raises(ConfigError, match="expected names"):
        parse_site_list("B,,C")
