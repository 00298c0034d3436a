"""Issue 12 item 2 / issue 11 item 3 in the one pass: the verification of
:func:`cadbusi_assets.stages.imaging.process_one` reads each line once, with the learned
vocabulary gate (the small line reader for the screen's own words, tesseract for the rest),
that one reading is the annotation's, and identifiers are still caught: a patient's name and
ID burned into a frame in Latin with accents, Greek, Cyrillic or CJK are found, or the file is
quarantined (the hook's refusal is the quarantine reason)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.ocr import UNREADABLE_CJK
from cadbusi_assets.stages import imaging
from cadbusi_assets.ultrasound import glyphs
from cadbusi_assets.ultrasound import ocr as ultrasound_ocr
from cadbusi_assets.ultrasound.analysis import analyze_frame
from cadbusi_assets_tests.support import missing, require_tesseract
from cadbusi_demo.screens_heldout import load_font

#: The screen's own words (no tesseract with the gate) and where they are drawn.
VOCABULARY = {
    "Gn 48": (20, 20),
    "DR 60": (20, 60),
    "L12-5 14MHz": (20, 100),
    "D1 1.58 cm": (20, 300),
}
#: The annotation: read by the learned reader, and by tesseract too where the reader is unsure
#: (:func:`cadbusi_assets.ultrasound.ocr.annotation_text`).
ANNOTATION = {"RT BREAST": (560, 20), "10:00 3CMFN": (560, 60)}
NAME_AT, ID_AT = (300, 180), (300, 230)

SCRIPTS = {
    "latin": ("MÜLLER ZOË", "MÜLLER^ZOË", "03908483"),
    "greek": ("ΠΑΠΑΔΟΠΟΥΛΟΥ ΕΛΕΝΗ", "ΠΑΠΑΔΟΠΟΥΛΟΥ^ΕΛΕΝΗ", "55501234"),
    "cyrillic": ("ИВАНОВА МАРИЯ", "ИВАНОВА^МАРИЯ", "77712345"),
    "cjk": ("山田", "YAMADA^HANAKO=山田^花子", "88812345"),
}


def _require_reader() -> None:
    try:
        glyphs.line_reader()
    except (ImportError, OSError, RuntimeError) as exc:
        missing(f"the learned line reader cannot run ({type(exc).__name__}: torch and weights)")


def _han_yamada(draw: ImageDraw.ImageDraw, x: int, y: int, h: int) -> None:
    """山田 drawn stroke by stroke (no CJK font is installed here or in CI)."""
    white = (255, 255, 255)
    draw.line([(x, y + h), (x + h, y + h)], fill=white, width=2)
    for dx, top in ((0, y + h // 3), (h // 2, y), (h, y + h // 3)):
        draw.line([(x + dx, top), (x + dx, y + h)], fill=white, width=2)
    x += h + h // 3
    draw.rectangle([x, y, x + h, y + h], outline=white, width=2)
    draw.line([(x + h // 2, y), (x + h // 2, y + h)], fill=white, width=2)
    draw.line([(x, y + h // 2), (x + h, y + h // 2)], fill=white, width=2)


def _frame(script: str | None = None, *, with_id: bool = True) -> np.ndarray:
    image = Image.new("RGB", (800, 400), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    font = load_font("sans", 18)
    for text, xy in {**VOCABULARY, **ANNOTATION}.items():
        draw.text(xy, text, font=font, fill=(255, 255, 255))
    if script is not None:
        shown, _, patient_id = SCRIPTS[script]
        if script == "cjk":
            _han_yamada(draw, *NAME_AT, 22)
        else:
            draw.text(NAME_AT, shown, font=font, fill=(255, 255, 255))
        if with_id:
            draw.text(ID_AT, f"ID {patient_id}", font=font, fill=(255, 255, 255))
    return np.asarray(image)


def _identifiers(script: str) -> OriginalIdentifiers:
    _, name, patient_id = SCRIPTS[script]
    return OriginalIdentifiers(patient_names=(name,), patient_ids=(patient_id,))


def _count_tesseract_lines(monkeypatch) -> list[tuple[int, int, int, int]]:
    """The boxes of the lines tesseract reads from now on (``read_line`` counted)."""
    read: list[tuple[int, int, int, int]] = []
    original = ultrasound_ocr.read_line

    def counted(level, box, *image):
        read.append(box)
        return original(level, box, *image)

    monkeypatch.setattr(ultrasound_ocr, "read_line", counted)
    return read


def _verify(frame: np.ndarray, identifiers: OriginalIdentifiers, monkeypatch):
    """The one pass's verification hook on one frame: (refusal, reading, lines tesseract read)."""
    read = _count_tesseract_lines(monkeypatch)
    readings: dict = {}
    result = SimpleNamespace(frames=frame[None], identifiers=identifiers)
    refusal = imaging._verifier(True, readings)(result)  # type: ignore[arg-type]
    return refusal, readings[0], read


def _at(boxes, xy) -> bool:
    return any(abs(b[0] - xy[0]) <= 6 and abs(b[1] - xy[1]) <= 8 for b in boxes)


def test_vocabulary_lines_skip_tesseract_and_the_reading_is_the_annotations(monkeypatch):
    require_tesseract()
    _require_reader()
    frame = _frame("latin")
    refusal, reading, read = _verify(frame, _identifiers("latin"), monkeypatch)
    boxes = reading.boxes
    for text, xy in VOCABULARY.items():
        assert _at(boxes, xy), text  # found and read ...
        assert not _at(read, xy), text  # ... by the learned reader alone
    for xy in (NAME_AT, ID_AT):
        assert _at(read, xy)  # tesseract reads the name and the ID
    # and the annotation's lines only where the learned reader was not sure of them
    assert len(read) <= len(ANNOTATION) + 2
    assert refusal is not None and "patient_name" in refusal and "patient_id" in refusal
    # the verification's reading is the annotation reading: no second OCR
    monkeypatch.setattr(ultrasound_ocr, "read_frame_text", None)
    row = analyze_frame(frame, [], ocr=True, reading=reading).as_row()
    assert (row["ocr_laterality"], row["clock_position"], row["nipple_distance_cm"]) == (
        "RIGHT",
        "10:00",
        3.0,
    )
    assert row["body_area"] == "breast"


@pytest.mark.parametrize("with_id", [True, False])
@pytest.mark.parametrize("script", list(SCRIPTS))
def test_a_burned_in_name_in_any_script_is_found_or_quarantined(script, with_id, monkeypatch):
    require_tesseract()
    _require_reader()
    refusal, _, read = _verify(_frame(script, with_id=with_id), _identifiers(script), monkeypatch)
    assert refusal is not None, script  # the one pass quarantines the instance
    assert _at(read, NAME_AT), script  # the gate never spared tesseract the name
    if script == "cjk":  # English OCR cannot read Han: the unexplained line fails closed
        assert UNREADABLE_CJK in refusal
    else:  # accents stripped; Greek and Cyrillic by their Latin look-alikes
        assert "patient_name" in refusal, script
    assert ("patient_id" in refusal) is with_id


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_a_clean_screen_passes_whatever_the_patients_script(script, monkeypatch):
    require_tesseract()
    refusal, reading, _ = _verify(_frame(), _identifiers(script), monkeypatch)
    assert refusal is None, script
    assert len(reading.lines) == len(VOCABULARY) + len(ANNOTATION)


def test_without_the_reader_tesseract_reads_every_line(monkeypatch):
    require_tesseract()

    def broken() -> glyphs.LineReader:
        raise OSError("no weights")

    monkeypatch.setattr(glyphs, "line_reader", broken)
    refusal, reading, read = _verify(_frame("latin"), _identifiers("latin"), monkeypatch)
    assert sorted(read) == sorted(reading.boxes)
    assert len(read) == len(VOCABULARY) + len(ANNOTATION) + 2
    assert refusal is not None and "patient_name" in refusal


def test_a_verification_alone_reads_no_annotation_line_with_tesseract(monkeypatch):
    """``cadbusi deidentify`` without ``--analyze`` parses no annotation: its verification
    (``ocr_identifiers`` reading the frame itself) keeps the learned reading of the
    annotation's lines, as of every vocabulary line; the one pass, which parses the fields,
    reads with tesseract too those the reader is less than ``ANNOTATION_SURE`` sure of (here:
    none). Names and IDs are read by tesseract either way."""
    from cadbusi_assets.deid.ocr import ocr_identifiers

    require_tesseract()
    _require_reader()
    read = _count_tesseract_lines(monkeypatch)
    frame = _frame("latin")
    boxes = ultrasound_ocr.find_text_lines(frame)
    vocabulary = ultrasound_ocr.screen_vocabulary_lines(ultrasound_ocr.brightness(frame), boxes)
    gated = [xy for xy in ANNOTATION.values() if _at(list(vocabulary), xy)]
    assert gated  # at least one annotation line the learned reader reads as vocabulary
    found = ocr_identifiers(frame, _identifiers("latin"))
    assert "patient_name" in found and "patient_id" in found
    assert _at(read, NAME_AT) and _at(read, ID_AT)
    assert not any(_at(read, xy) for xy in gated), read
    read.clear()
    ultrasound_ocr.read_frame_text(frame, vocabulary_gate=True)  # fields: the one pass's reading
    assert _at(read, NAME_AT) and _at(read, ID_AT)
    assert not any(_at(read, xy) for xy in gated), read  # read surely: no second reading


def _annotation_confidence(monkeypatch, confidence: float) -> None:
    """The learned reader's confidence in the annotation's lines set to ``confidence`` (its
    readings and verdicts otherwise as they are)."""
    original = ultrasound_ocr._learned_readings

    def readings(images):
        out = original(images)
        if out is None:
            return None
        return [
            (text, vocabulary, confidence if text in ANNOTATION else sure)
            for text, vocabulary, sure in out
        ]

    monkeypatch.setattr(ultrasound_ocr, "_learned_readings", readings)


@pytest.mark.parametrize("confidence", [0.6, 0.95])
def test_the_one_pass_reads_an_annotation_line_twice_only_when_the_reader_is_unsure(
    confidence, monkeypatch
):
    """The one pass's reading (fields parsed): an annotation line the learned reader reads
    with less than ``ANNOTATION_SURE`` is read by tesseract too and its fields merged
    (:func:`~cadbusi_assets.ultrasound.ocr.annotation_text`); one read at least that sure
    keeps the learned reading alone (before: tesseract read every annotation line). The
    fields come out right either way."""
    require_tesseract()
    _require_reader()
    _annotation_confidence(monkeypatch, confidence)
    frame = _frame("latin")
    refusal, reading, read = _verify(frame, _identifiers("latin"), monkeypatch)
    assert refusal is not None and "patient_name" in refusal  # the name: tesseract's
    assert _at(read, NAME_AT) and _at(read, ID_AT)
    twice = [xy for xy in ANNOTATION.values() if _at(read, xy)]
    if confidence < ultrasound_ocr.ANNOTATION_SURE:
        assert len(twice) == len(ANNOTATION), read
    else:
        assert twice == [], read
    row = analyze_frame(frame, [], ocr=True, reading=reading).as_row()
    assert (row["ocr_laterality"], row["clock_position"], row["nipple_distance_cm"]) == (
        "RIGHT",
        "10:00",
        3.0,
    )


def test_the_annotation_numbers_of_demo_screens_come_out_right():
    """The demo cohort's annotation lines ("RIGHT 4:00 3CM FN"): the learned reader read some
    of their distances confidently wrong ("3" as "8"), and a confident reading kept its
    numbers, so three demo lesion images linked to no lesion (6 of these 40 frames wrong).
    Numbers come from tesseract's clean reading now; what is left is tesseract's own misread
    of a 10 px line (seed 9100: "3 CM FN" read "2CMFN"), and, since the reader of 317b21b,
    seed 9105's 10 px "4.5 CM FN", whose one-pixel decimal point both readers lose ("45 CM
    FN": no distance, None, never a wrong number; the reader before read "4.5" but "2:80"
    for the clock): those two frames in 40 and no other."""
    from cadbusi_assets.ultrasound.annotations import parse_annotation
    from cadbusi_demo.screens_heldout import render_screen

    require_tesseract()
    _require_reader()
    wrong = []
    for seed in range(40):
        screen = render_screen("demo", 9100 + seed)
        want = parse_annotation(screen.annotation_text)
        if want.nipple_distance_cm is None and want.clock_position is None:
            continue
        row = analyze_frame(screen.frame, [], ocr=True).as_row()
        got = (row["clock_position"], row["nipple_distance_cm"])
        if got != (want.clock_position, want.nipple_distance_cm):
            wrong.append((seed, screen.annotation_text, got))
    assert {seed for seed, _, _ in wrong} <= {0, 5}, wrong
    # seed 9105's distance is left out, never read as another number
    assert all(got[1] is None for seed, _, got in wrong if seed == 5), wrong


def test_one_misread_number_does_not_spoil_the_other(monkeypatch):
    """The demo lesion images of the full pipeline: the learned reader read "4:00 8CM FN",
    tesseract "400 3CMFN" (the colon lost). The clean distance of tesseract's reading counts
    even though its clock is misread; the clock comes from the learned reading."""
    from cadbusi_assets.ultrasound.annotations import parse_annotation

    monkeypatch.setattr(ultrasound_ocr, "read_line", lambda level, box, *image: "400 3CMFN")
    text, other = ultrasound_ocr.annotation_text(
        np.zeros((4, 4), np.uint8), (0, 0, 1, 1), "4:00 8CM FN"
    )
    fields = parse_annotation(text)
    assert (fields.clock_position, fields.nipple_distance_cm) == ("4:00", 3.0)
    assert {text, other} >= {"400 3CMFN"}  # tesseract's own text is kept as a reading


def test_a_surname_that_is_a_screen_word_in_a_sure_annotation_line_is_caught(monkeypatch):
    """The sure annotation reading skips tesseract, never the matching: a patient named LONG
    (an orientation word, a common surname) whose name stands in an annotation line the
    learned reader reads surely as the screen's own words ("LONG 10:00 3CMFN") is still
    found in that reading, and the instance is quarantined (fail closed: the annotation is
    lost for that image, the name never published)."""
    require_tesseract()
    _require_reader()
    image = Image.new("RGB", (800, 400), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    font = load_font("sans", 18)
    lines = {"Gn 48": (20, 20), "RT BREAST": (560, 20), "LONG 10:00 3CMFN": (560, 60)}
    for text, xy in lines.items():
        draw.text(xy, text, font=font, fill=(255, 255, 255))
    frame = np.asarray(image)
    for name in ("LONG^MEI", "MEI^LONG"):
        identifiers = OriginalIdentifiers(patient_names=(name,), patient_ids=("55501234",))
        refusal, reading, read = _verify(frame, identifiers, monkeypatch)
        assert not _at(read, lines["LONG 10:00 3CMFN"]), read  # read surely: no tesseract
        assert any(line.text.startswith("LONG") for line in reading.lines), reading
        assert refusal is not None and "patient_name" in refusal, name
