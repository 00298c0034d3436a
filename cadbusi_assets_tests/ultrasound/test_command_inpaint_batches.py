"""``cadbusi analyze`` inpaints in batches of frames across files (a long cine is split)."""

from __future__ import annotations

from pathlib import Path

from cadbusi_assets.ultrasound import command


def _frames(name: str, n: int) -> list[tuple[int, list[list[int]], str]]:
    return [(i, [[10, 10]], f"{name}_f{i}.png") for i in range(n)]


def test_frame_batches_group_files_split_long_cines_and_keep_every_frame_once():
    by_file = {"a.dcm": _frames("a", 1), "b.dcm": _frames("b", 2), "cine.dcm": _frames("c", 75)}
    by_file |= {f"s{i}.dcm": _frames(f"s{i}", 1) for i in range(40)}
    total = sum(len(v) for v in by_file.values())
    for workers in (1, 2, 16):
        batches = command._frame_batches(by_file, Path("/in"), workers)
        sizes = [sum(len(frames) for _, frames in batch) for batch in batches]
        assert max(sizes) <= command.INPAINT_BATCH_FRAMES
        names = [name for batch in batches for _, frames in batch for _, _, name in frames]
        assert names == [name for frames in by_file.values() for _, _, name in frames]
        assert all(path.startswith("/in/") for batch in batches for path, _ in batch)
        if workers == 16:  # small enough that every worker gets a batch
            assert len(batches) >= 16 and max(sizes) <= -(-total // 16)
    assert command._frame_batches({}, Path("/in"), 2) == []
