"""Cohort table (Table 2): summaries and tests per split and site against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from radiopipe.stats.checks import StatsInputError
from radiopipe.stats.cohort_table import cohort_table, format_p


@pytest.fixture(scope="module")
def manifest() -> pd.DataFrame:
    """A manifest table as read_manifest gives it: every column a string."""
    rng = np.random.default_rng(8)
    n = 160
    label = (rng.random(n) < 0.55).astype(int)
    split = np.where(np.arange(n) < 100, "train", np.where(np.arange(n) < 130, "internal_test",
                                                             "external_test"))  # fmt: skip
    site = np.where(split == "external_test", "B", "A")
    age = np.round(rng.normal(39, 7, n) + 2 * label, 0)
    volume = np.round(np.exp(rng.normal(4, 0.8, n) + 0.6 * label), 1)  # skewed
    fibroid_type = rng.choice(["I", "II", "III"], n, p=[0.3, 0.4, 0.3])
    fibroid_type[label == 1] = rng.choice(["I", "II", "III"], label.sum(), p=[0.6, 0.3, 0.1])
    rare = np.where(rng.random(n) < 0.06, "yes", "no")
    table = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)], "site": site, "split": split,
            "label": label.astype(str), "image_t2w": "x.nii.gz", "age": age.astype(int).astype(str),
            "volume": volume.astype(str), "fibroid_type": fibroid_type, "calcified": rare,
        }
    )  # fmt: skip
    table.loc[5, "age"] = ""  # one missing value
    return table


def _row(table: pd.DataFrame, group: str, variable: str, level: str = "") -> pd.Series:
    hit = table.loc[(table["group"] == group) & (table["variable"] == variable)
                    & (table["level"] == level)]  # fmt: skip
    assert len(hit) == 1, (group, variable, level)
    return hit.iloc[0]


def test_groups_counts_and_layout(manifest) -> None:
    table = cohort_table(manifest, ["age", "volume", "fibroid_type", "calcified"])
    assert list(dict.fromkeys(table["group"])) == [
        "all",
        "external_test",
        "internal_test",
        "train",
        "A",
        "B",
    ]
    n_row = _row(table, "train", "n")
    train = manifest.loc[manifest["split"] == "train"]
    assert n_row["overall"] == str(len(train))
    assert n_row["favourable"] == str((train["label"] == "1").sum())
    assert n_row["unfavourable"] == str((train["label"] == "0").sum())
    assert _row(table, "all", "age")["missing"] == 1


def test_continuous_tests_follow_normality(manifest) -> None:
    table = cohort_table(manifest, ["age", "volume"])
    train = manifest.loc[manifest["split"] == "train"]
    y = train["label"].astype(int).to_numpy()
    age = pd.to_numeric(train["age"]).to_numpy()
    row = _row(table, "train", "age")
    assert row["test"] == "Welch t-test"
    assert row["statistic"] == "mean ± SD"
    groups = [age[(y == k) & ~np.isnan(age)] for k in (0, 1)]
    assert row["p_value"] == pytest.approx(stats.ttest_ind(*groups, equal_var=False).pvalue)
    assert row["favourable"] == f"{groups[1].mean():.1f} ± {groups[1].std(ddof=1):.1f}"
    volume = train["volume"].astype(float).to_numpy()
    row = _row(table, "train", "volume")
    assert row["test"] == "Mann-Whitney U"
    assert row["statistic"] == "median [IQR]"
    expected = stats.mannwhitneyu(volume[y == 0], volume[y == 1]).pvalue
    assert row["p_value"] == pytest.approx(expected)
    q1, med, q3 = np.percentile(volume[y == 0], [25, 50, 75])
    assert row["unfavourable"] == f"{med:.1f} [{q1:.1f}–{q3:.1f}]"


def test_categorical_tests(manifest) -> None:
    table = cohort_table(manifest, ["fibroid_type", "calcified"], seed=3)
    everyone = manifest
    y = everyone["label"].astype(int).to_numpy()
    counts = pd.crosstab(everyone["fibroid_type"], y).to_numpy()
    head = _row(table, "all", "fibroid_type")
    assert head["test"] == "Pearson chi-squared"
    expected = stats.chi2_contingency(counts, correction=False)[1]
    assert head["p_value"] == pytest.approx(expected)
    level = _row(table, "all", "fibroid_type", "I")
    n1 = counts[0, 1]
    assert level["favourable"] == f"{n1} ({100 * n1 / counts[:, 1].sum():.1f}%)"
    small = _row(table, "external_test", "calcified")
    part = manifest.loc[manifest["split"] == "external_test"]
    crosstab = pd.crosstab(part["calcified"], part["label"]).to_numpy()
    assert crosstab.shape == (2, 2)
    assert small["test"] == "Fisher exact"
    assert small["p_value"] == pytest.approx(stats.fisher_exact(crosstab).pvalue)


def test_monte_carlo_fisher_is_seeded() -> None:
    table = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(24)], "split": "train", "site": "A",
            "label": ["0", "1"] * 12, "grade": ["a", "b", "c", "a", "a", "c"] * 4,
        }
    )  # fmt: skip
    first = cohort_table(table, ["grade"], seed=1)
    again = cohort_table(table, ["grade"], seed=1)
    head = _row(first, "all", "grade")
    assert head["test"] == "Fisher exact (Monte Carlo)"
    assert head["p_value"] == _row(again, "all", "grade")["p_value"]


def test_errors_and_p_format(manifest) -> None:
    with pytest.raises(StatsInputError, match="bmi"):
        cohort_table(manifest, ["bmi"])
    bad = manifest.copy()
    bad.loc[3, "label"] = "2"
    with pytest.raises(StatsInputError, match=r"patient.s. P003"):
        cohort_table(bad, ["age"])
    with pytest.raises(StatsInputError, match="non-numbers"):
        cohort_table(manifest, ["fibroid_type"], continuous=["fibroid_type"])
    assert (format_p(0.0004), format_p(0.0441), format_p(float("nan"))) == ("<0.001", "0.044", "")
