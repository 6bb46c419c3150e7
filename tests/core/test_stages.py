"""The stage engine (radiopipe.pipeline.engine): keys, skipping, force, scratch, provenance."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from radiopipe.config.core import StrictModel
from radiopipe.errors import RadiopipeError
from radiopipe.pipeline.engine import From, Stage, StageCall, run_single, run_stages, stage_graph
from radiopipe.runs import RunFolder


class Text(StrictModel):
    text: str
    seed: int = 7


class Recorder:
    """Stages that write a file and count how often they ran."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail_in: str | None = None

    def make(self, name: str, source: str | None = None, text: str = "x") -> Stage:
        def run(call: StageCall) -> dict[str, Path]:
            self.calls.append(name)
            if self.fail_in == name:
                raise RuntimeError(f"{name} crashed")
            upstream = call["upstream"].read_text(encoding="utf-8") if source else ""
            partial = call.folder / "partial"
            partial.mkdir(exist_ok=True)
            (partial / "piece").write_text("resumable work")
            out = call.folder / "out.txt"
            out.write_text(upstream + text)
            call.provenance["length"] = len(upstream + text)
            logging.getLogger("radiopipe.test").info(
                "%s made %d characters", name, len(upstream + text)
            )
            return {"out": out}

        inputs = {"upstream": From(source, "out")} if source else {}
        return Stage(
            name, run, settings=Text(text=text), inputs=inputs, outputs=("out",),
            scratch=("partial",),
        )  # fmt: skip


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
    assert ctx.output("third", "out").read_text(encoding="utf-8") == "abc"
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
    assert ctx.output("third", "out").read_text(encoding="utf-8") == "aBc"


def test_crash_resumes_at_the_failed_stage(tmp_path: Path) -> None:
    rec = Recorder()
    rec.fail_in = "third"
    run = RunFolder.at(tmp_path)
    with pytest.raises(RuntimeError, match="third crashed"):
        run_stages(pipeline(rec), run)
    assert not (tmp_path / ".stages" / "third.json").exists()
    rec.fail_in = None
    rec.calls.clear()
    _, reports = run_stages(pipeline(rec), run)
    assert rec.calls == ["third"]
    assert [r.status for r in reports] == ["skipped", "skipped", "ran"]


def test_force_reruns_the_stage_and_exactly_the_stages_downstream(tmp_path: Path) -> None:
    rec = Recorder()
    stages = [*pipeline(rec), rec.make("side", "first", "s")]  # reads first, not second
    run = RunFolder.at(tmp_path)
    run_stages(stages, run)
    rec.calls.clear()
    _, reports = run_stages(stages, run, force=frozenset({"second"}))
    # second rewrites identical bytes, yet third (downstream) runs again; first and side not
    assert rec.calls == ["second", "third"]
    assert {r.name: r.status for r in reports} == {
        "first": "skipped", "second": "ran", "third": "ran", "side": "skipped"
    }  # fmt: skip
    rec.calls.clear()
    run_stages(stages, run, force=frozenset({"first"}))
    assert rec.calls == ["first", "second", "third", "side"]


def test_force_removes_the_resumable_partial_work(tmp_path: Path) -> None:
    rec = Recorder()
    run = RunFolder.at(tmp_path)
    run_stages(pipeline(rec), run)
    stale = tmp_path / "second" / "partial" / "stale"
    stale.write_text("from an interrupted run")
    run_stages(pipeline(rec), run)
    assert stale.exists(), "a stage that is not forced keeps its partial work"
    run_stages(pipeline(rec), run, force=frozenset({"second"}))
    assert not stale.exists()
    assert (tmp_path / "second" / "partial" / "piece").exists()


def test_deleted_output_reruns_the_stage(tmp_path: Path) -> None:
    rec = Recorder()
    run = RunFolder.at(tmp_path)
    run_stages(pipeline(rec), run)
    (tmp_path / "second" / "out.txt").unlink()
    rec.calls.clear()
    run_stages(pipeline(rec), run)
    assert rec.calls == ["second", "third"]


def test_every_stage_records_provenance_and_its_log(tmp_path: Path) -> None:
    rec = Recorder()
    run = RunFolder.at(tmp_path)
    run_stages(pipeline(rec), run)
    prov = json.loads((tmp_path / "second" / "provenance.json").read_text(encoding="utf-8"))
    assert prov["command"] == "second" and prov["stage"] == "second"
    assert prov["seed"] == 7 and prov["length"] == 2
    assert prov["inputs"]["upstream"]["path"] == str((tmp_path / "first" / "out.txt").resolve())
    assert len(prov["inputs"]["upstream"]["sha256"]) == 64
    assert "text: b" in (tmp_path / "second" / "config.resolved.yaml").read_text(encoding="utf-8")
    assert "second made 2 characters" in (tmp_path / "second" / "radiopipe.log").read_text(
        encoding="utf-8"
    )


def test_a_single_stage_records_the_same_provenance_as_in_a_run(tmp_path: Path) -> None:
    rec = Recorder()
    ctx, _ = run_stages(pipeline(rec), RunFolder.at(tmp_path / "run"))
    given = {"first": {"out": ctx.output("first", "out")}}
    outputs, report = run_single(rec.make("second", "first", "b"), tmp_path / "alone", given=given)
    assert report.status == "ran" and outputs["out"].read_text(encoding="utf-8") == "ab"
    in_run = json.loads(
        (tmp_path / "run" / "second" / "provenance.json").read_text(encoding="utf-8")
    )
    alone = json.loads((tmp_path / "alone" / "provenance.json").read_text(encoding="utf-8"))
    volatile = {"started", "argv", "git_commit"}
    assert {k: v for k, v in in_run.items() if k not in volatile} == {
        k: v for k, v in alone.items() if k not in volatile
    }
    _, again = run_single(rec.make("second", "first", "b"), tmp_path / "alone", given=given)
    assert again.status == "skipped"
    _, forced = run_single(
        rec.make("second", "first", "b"), tmp_path / "alone", force=True, given=given
    )
    assert forced.status == "ran"


def test_a_missing_declared_output_or_input_is_an_error(tmp_path: Path) -> None:
    def run(call: StageCall) -> dict[str, Path]:
        return {}

    with pytest.raises(RadiopipeError, match="did not write its output"):
        run_stages([Stage("lazy", run, outputs=("table",))], RunFolder.at(tmp_path))
    with pytest.raises(RadiopipeError, match="no stage of this run has produced 'out'"):
        run_stages([Stage("orphan", run, inputs={"x": From("first", "out")})],
                   RunFolder.at(tmp_path))  # fmt: skip


def test_stage_graph_lists_what_each_stage_reads() -> None:
    rec = Recorder()
    graph = stage_graph([*pipeline(rec), rec.make("side", "first")])
    assert graph == {"first": [], "second": ["first"], "third": ["second"], "side": ["first"]}


def test_a_stage_report_holds_its_cpu_time(tmp_path: Path) -> None:
    """The engine measures each stage's CPU time (this process and its finished children)."""
    import time

    def busy(call: StageCall) -> dict[str, Path]:
        end = time.process_time() + 0.2
        while time.process_time() < end:
            pass
        out = call.folder / "out.txt"
        out.write_text("done")
        return {"out": out}

    stage = Stage("busy", busy, settings=Text(text="cpu"), outputs=("out",))
    _, report = run_single(stage, tmp_path / "busy")
    assert report.status == "ran" and report.cpu_seconds >= 0.2
    _, again = run_single(stage, tmp_path / "busy")
    assert again.status == "skipped" and again.cpu_seconds < 0.2
