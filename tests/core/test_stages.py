from __future__ import annotations

from pathlib import Path

import pytest

from radiopipe.runs import RunFolder
from radiopipe.stages import Context, Stage, run_stages


class Recorder:
    """Stages that write a file and count how often they ran."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail_in: str | None = None

    def make(self, name: str, source: str | None = None, text: str = "x") -> Stage:
        def run(ctx: Context, folder: Path) -> dict[str, Path]:
            self.calls.append(name)
            if self.fail_in == name:
                raise RuntimeError(f"{name} crashed")
            upstream = ctx.output(source, "out").read_text() if source else ""
            out = folder / "out.txt"
            out.write_text(upstream + text)
            return {"out": out}

        reads = (lambda ctx: [ctx.output(source, "out")]) if source else (lambda ctx: [])
        return Stage(name, run, settings={"text": text}, reads=reads)


def pipeline(rec: Recorder, middle_text: str = "b") -> list[Stage]:
    return [
        rec.make("first", text="a"),
        rec.make("second", "first", middle_text),
        rec.make("third", "second", "c"),
    ]


def test_second_run_skips_everything(tmp_path: Path) -> None:
    rec = Recorder()
    run = RunFolder.at(tmp_path)
    ctx, reports = run_stages(pipeline(rec), run)
    assert ctx.output("third", "out").read_text() == "abc"
    assert [r.status for r in reports] == ["ran"] * 3
    ctx, reports = run_stages(pipeline(rec), run)
    assert [r.status for r in reports] == ["skipped"] * 3
    assert rec.calls == ["first", "second", "third"]
    assert ctx.output("third", "out") == tmp_path / "third" / "out.txt"


def test_changed_setting_reruns_that_stage_and_what_reads_it(tmp_path: Path) -> None:
    rec = Recorder()
    run = RunFolder.at(tmp_path)
    run_stages(pipeline(rec), run)
    rec.calls.clear()
    ctx, reports = run_stages(pipeline(rec, middle_text="B"), run)
    assert [r.status for r in reports] == ["skipped", "ran", "ran"]
    assert ctx.output("third", "out").read_text() == "aBc"


def test_crash_resumes_at_the_failed_stage(tmp_path: Path) -> None:
    rec = Recorder()
    rec.fail_in = "third"
    run = RunFolder.at(tmp_path)
    with pytest.raises(RuntimeError, match="third crashed"):
        run_stages(pipeline(rec), run)
    rec.fail_in = None
    rec.calls.clear()
    _, reports = run_stages(pipeline(rec), run)
    assert rec.calls == ["third"]
    assert [r.status for r in reports] == ["skipped", "skipped", "ran"]


def test_deleted_output_and_force_rerun(tmp_path: Path) -> None:
    rec = Recorder()
    run = RunFolder.at(tmp_path)
    run_stages(pipeline(rec), run)
    (tmp_path / "second" / "out.txt").unlink()
    rec.calls.clear()
    run_stages(pipeline(rec), run)
    # second rewrites identical bytes, so third (keyed on that content) stays done
    assert rec.calls == ["second"]
    rec.calls.clear()
    run_stages(pipeline(rec), run, force=frozenset({"first"}))
    assert rec.calls == ["first"]
