"""A volume before ``cc`` is no copy to somebody: ``10 cc saline given`` became ``10 cc [NAME]
given`` (``saline``, a town in the place names, was taken for a name written in lower case;
any word not in the vocabulary after ``10 cc`` was taken for a name after the ``cc`` cue:
``cephalexin``, ``tylenol``, ``sestamibi``...). A copy to a person still goes."""

from __future__ import annotations

import pytest

from cadbusi_assets.records.scrub import scrub_report_text


def _scrub(text: str) -> str:
    return scrub_report_text(text, identifiers=[], date_shift_days=0)


@pytest.mark.parametrize(
    "text",
    [
        "10 cc saline given.",
        "Injected 2.5 cc cephalexin.",
        "two cc keflex",
        "Findings: 3 cc sestamibi injected, then 5cc warfarin noted.",
        "Saline was injected.",
    ],
)
def test_a_volume_in_cc_keeps_the_agent(text):
    assert _scrub(text) == text


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("cc: Dr Quimbrell", "Quimbrell"),
        ("Report cc zelda farthing", "farthing"),
        ("cc ozquimbrell", "ozquimbrell"),
        ("10 cc Zelda Farthing", "Farthing"),
    ],
)
def test_a_copy_to_a_person_still_goes(text, gone):
    assert gone not in _scrub(text)
