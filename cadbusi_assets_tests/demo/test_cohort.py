"""Generation as a whole: determinism, seeds, reloading, replacing, the command line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import duckdb
import pytest

from cadbusi_demo import DemoCohort, DemoConfig, generate_demo_cohort
from cadbusi_demo.__main__ import main
from cadbusi_demo.acquisition import plan_acquisitions
from cadbusi_demo.cohort import _swap_into_place
from cadbusi_demo.dicom_writer import instance_bytes
from cadbusi_demo.plan import plan_cohort
from cadbusi_demo.render import render_view
from cadbusi_demo.warehouse import WAREHOUSE_SCHEMA, warehouse_frames


def files(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "warehouse.duckdb"
    }


def tables(path) -> dict[str, list]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in WAREHOUSE_SCHEMA
        }


def test_same_seed_gives_identical_files_with_any_worker_count(tmp_path, demo_cohort, small_config):
    again = generate_demo_cohort(tmp_path / "again", dataclasses.replace(small_config, workers=1))
    first, second = files(demo_cohort.out_dir), files(again.out_dir)
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    assert tables(demo_cohort.warehouse_path) == tables(again.warehouse_path)
    assert again.summary() == demo_cohort.summary()


def test_a_different_seed_gives_a_different_cohort(small_config):
    other = dataclasses.replace(small_config, seed=small_config.seed + 1)
    plans = [plan_cohort(small_config), plan_cohort(other)]
    frames = [warehouse_frames(p) for p in plans]
    for table in WAREHOUSE_SCHEMA:
        assert not frames[0][table].equals(frames[1][table])
    studies = [plan_acquisitions(p)[0] for p in plans]
    views = [s.views[0] for s in studies]
    rendered = [render_view(s, v) for s, v in zip(studies, views, strict=True)]
    assert not (
        rendered[0].frames[0].shape == rendered[1].frames[0].shape
        and (rendered[0].frames[0] == rendered[1].frames[0]).all()
    )
    data = [
        instance_bytes(
            s,
            v,
            sop_instance_uid=v.sop_instance_uid,
            instance_number=1,
            frames=r.frames,
            regions=r.regions,
            colour=r.colour,
        )
        for s, v, r in zip(studies, views, rendered, strict=True)
    ]
    assert data[0] != data[1]


def test_load_gives_back_config_and_summary(demo_cohort, small_config):
    loaded = DemoCohort.load(demo_cohort.out_dir)
    assert loaded.config == dataclasses.replace(small_config, workers=None)
    assert loaded.summary() == demo_cohort.summary()
    assert loaded.identifiers() == demo_cohort.identifiers()
    saved = json.loads((demo_cohort.out_dir / "cohort.json").read_text())
    assert saved["config"] == small_config.to_dict()


def test_summary_counts_agree_with_the_files(demo_cohort, truths):
    summary = demo_cohort.summary()
    assert summary["instances"] == len(truths) == len(list(demo_cohort.pacs_root.glob("*/*.dcm")))
    assert summary["frames"] == sum(t["number_of_frames"] for t in truths.values())
    assert summary["us_studies"] == len(list(demo_cohort.pacs_root.iterdir()))
    assert summary["cine"] == sum(t["is_cine"] for t in truths.values())
    assert summary["twins"] == sum(bool(t["twin_of"]) for t in truths.values())
    assert summary["caliper_images"] == sum(t["has_calipers"] for t in truths.values())
    assert summary["clean_pngs"] == len(
        list((demo_cohort.ground_truth_dir / "clean").glob("*.png"))
    )
    assert summary["jpeg"] + summary["rgb"] + summary["mono"] == summary["instances"]
    assert sum(summary["layouts"].values()) == summary["instances"]
    assert summary["doppler"] >= 1 and summary["cine"] >= 1


def test_command_line_builds_the_config_and_prints_the_summary(
    monkeypatch, capsys, tmp_path, demo_cohort
):
    calls = []

    def fake_generate(out_dir, config, progress):
        calls.append((out_dir, config))
        progress("images: 1/1 studies")
        return demo_cohort

    monkeypatch.setattr("cadbusi_demo.__main__.generate_demo_cohort", fake_generate)
    assert (
        main(
            [
                str(tmp_path / "cli"),
                "--start",
                "2026-10-05",
                "--days",
                "4",
                "--seed",
                "5",
                "--studies-per-day",
                "1",
                "3",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert calls == [
        (
            tmp_path / "cli",
            DemoConfig(
                start=dt.date(2026, 10, 5), days=4, studies_per_day=(1, 3), seed=5, workers=1
            ),
        )
    ]
    printed = capsys.readouterr().out
    assert "images: 1/1 studies" in printed
    assert (
        json.loads(printed[printed.index("{") : printed.rindex("}") + 1]) == demo_cohort.summary()
    )


def test_regeneration_replaces_the_whole_folder(tmp_path):
    out = tmp_path / "cohort"
    out.mkdir()
    (out / "stale.txt").write_text("left over from an older run")
    staging = tmp_path / ".cohort.partial"
    staging.mkdir()
    (staging / "cohort.json").write_text("{}")
    _swap_into_place(staging, out)
    assert sorted(p.name for p in out.iterdir()) == ["cohort.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]


def test_invalid_config_is_rejected():
    with pytest.raises(ValueError):
        DemoConfig(days=0)
    with pytest.raises(ValueError):
        DemoConfig(studies_per_day=(3, 2))


def test_a_failed_generation_keeps_the_previous_cohort(monkeypatch, tmp_path):
    out = tmp_path / "cohort"
    out.mkdir()
    (out / "cohort.json").write_text('{"previous": true}')

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("cadbusi_demo.pacs.write_pacs", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_demo_cohort(out, DemoConfig(days=1, studies_per_day=(0, 0)))
    assert (out / "cohort.json").read_text() == '{"previous": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]
