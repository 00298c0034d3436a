"""The text benchmark's verification figures: tesseract reads per cleaned frame, and the
frames that left tesseract nothing to read (the verification's floor)."""

from __future__ import annotations

import statistics

from benchmarks.textlines import _Totals, format_text_report


def _totals(ms: list[float], reads: list[int]) -> _Totals:
    totals = _Totals(frames=len(ms))
    totals.verify_clean_ms = list(ms)
    totals.tesseract_reads = list(reads)
    return totals


def test_frames_without_tesseract_are_counted_and_timed_apart():
    ms, reads = [9.0, 31.0, 13.0, 40.0], [0, 2, 0, 1]
    summary = _totals(ms, reads).summary()
    assert summary["tesseract_reads_per_cleaned_frame"] == statistics.fmean(reads)
    assert summary["cleaned_frames_without_tesseract"] == 0.5
    assert summary["verify_ms_cleaned_without_tesseract_median"] == statistics.median([9.0, 13.0])
    assert summary["verify_ms_cleaned_median"] == statistics.median(ms)


def test_the_figures_add_up_over_families_and_reach_the_report():
    group = _Totals()
    group.add(_totals([9.0, 31.0], [0, 2]))
    group.add(_totals([13.0, 40.0], [0, 1]))
    summary = group.summary()
    assert summary["cleaned_frames_without_tesseract"] == 0.5
    assert summary["verify_ms_cleaned_without_tesseract_median"] == 11.0
    report = format_text_report({"tuning": summary})
    assert "no-tess ms" in report.splitlines()[0] and "11.0" in report.splitlines()[1]


def test_no_ocr_run_gives_no_figures():
    summary = _Totals().summary()
    assert summary["tesseract_reads_per_cleaned_frame"] is None
    assert summary["verify_ms_cleaned_without_tesseract_median"] is None


def test_cold_caches_empty_both_readers_and_put_their_lines_back():
    """'clean cold' and 'verify cold' read with nothing cached: neither tesseract's line
    cache nor the learned line reader's may answer from an earlier frame (the warm figure
    would pass for the cold one), and the warm caches come back for the next frame."""
    from benchmarks.textlines import _cold_caches
    from cadbusi_assets.ultrasound.glyphs import line_reader
    from cadbusi_assets.ultrasound.ocr import engine

    owners = [engine(), line_reader()]
    for owner in owners:
        owner._cache[b"a line read before"] = "SEEN"
    with _cold_caches():
        assert all(len(owner._cache) == 0 for owner in owners)
        owners[0]._cache[b"read while cold"] = "NEW"
    for owner in owners:
        assert owner._cache[b"a line read before"] == "SEEN"
        assert b"read while cold" not in owner._cache
        del owner._cache[b"a line read before"]


def test_the_benchmark_runs_opencv_on_the_workers_thread_count_and_restores_it(monkeypatch):
    """The verification's CPU ms are measured with OpenCV on one thread, as the pipeline's
    worker processes run it (a process's CPU time counts every thread's); the caller's
    setting comes back afterwards."""
    import cv2

    import benchmarks.textlines as bench

    seen: list[int] = []

    def family_totals(family: str, frames: int, seed: int, ocr: bool) -> _Totals:
        seen.append(cv2.getNumThreads())
        return _Totals()

    monkeypatch.setattr(bench, "_family_totals", family_totals)
    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        bench.run_text_benchmark(frames_per_family=1, ocr=True)
        assert seen and set(seen) == {1}
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)
