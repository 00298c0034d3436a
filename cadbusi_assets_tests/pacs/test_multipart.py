"""The streaming multipart reader of WADO-RS answers: one part (an instance) or many (a
series), split across chunks anywhere, cut short, or with a wrong length."""

from __future__ import annotations

import doctest
import io

import pytest

from cadbusi_assets.pacs import multipart
from cadbusi_assets.pacs.base import RetrievalError, TransientError
from cadbusi_assets.pacs.multipart import copy_parts, copy_single_part

BODY = (
    b"preamble\r\n--XYZ\r\nContent-Type: application/dicom\r\n\r\nDICM-one\r\n"
    b"--XYZ\r\nContent-Type: application/dicom\r\nContent-Length: 10\r\n\r\nDICM-\r\ntwo\r\n"
    b"--XYZ\r\n\r\nDICM-three\r\n--XYZ--\r\n"
)


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[k : k + size] for k in range(0, len(data), size)]


def _parts(chunks: list[bytes]) -> list[tuple[bytes, bool]]:
    out: list[tuple[bytes, bool]] = []

    def close(dest, complete: bool) -> None:
        out.append((dest.getvalue(), complete))

    copy_parts(chunks, "XYZ", io.BytesIO, close)
    return out


def test_the_modules_examples_hold():
    assert doctest.testmod(multipart).failed == 0


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(BODY)])
def test_every_part_whole_however_the_body_is_cut(size):
    assert _parts(_chunks(BODY, size)) == [
        (b"DICM-one", True),
        (b"DICM-\r\ntwo", True),
        (b"DICM-three", True),
    ]


def test_a_body_cut_short_closes_the_open_part_as_incomplete():
    cut = BODY[: BODY.index(b"DICM-three") + 6]
    out: list[tuple[bytes, bool]] = []
    with pytest.raises(TransientError, match="truncated"):
        copy_parts(_chunks(cut, 5), "XYZ", io.BytesIO, lambda d, ok: out.append((d.getvalue(), ok)))
    assert [ok for _, ok in out] == [True, True, False]


def test_a_part_shorter_than_its_length_is_truncated():
    body = b"--B\r\nContent-Length: 10\r\n\r\nshort\r\n--B--"
    out: list[bool] = []
    with pytest.raises(TransientError):
        copy_parts([body], "B", io.BytesIO, lambda d, ok: out.append(ok))
    assert out == [False]


def test_an_empty_series_answer_has_no_part():
    assert copy_parts([b"--B--\r\n"], "B", io.BytesIO, lambda d, ok: None) == 0


def test_a_single_instance_answer_with_two_parts_is_refused():
    with pytest.raises(RetrievalError, match="more than one part"):
        copy_single_part([BODY], "XYZ", io.BytesIO())
