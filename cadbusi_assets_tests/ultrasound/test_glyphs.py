"""The learned line reader (a gate in front of tesseract): it reads the screen's own words,
its vocabulary excludes names, IDs and dates, and the verification stays fail-closed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.ultrasound import glyphs
from cadbusi_assets.ultrasound import ocr as ultrasound_ocr
from cadbusi_assets.ultrasound.textlines import brightness
from cadbusi_assets_tests.support import require_tesseract_executable
from cadbusi_demo.screens_heldout import load_font


def _screen(lines: list[tuple[str, tuple[int, int]]], face: str = "sans", size: int = 16):
    image = Image.new("RGB", (640, 260), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    for text, xy in lines:
        draw.text(xy, text, font=load_font(face, size), fill=(255, 255, 255))
    return np.asarray(image)


@pytest.mark.parametrize(
    ("text", "vocabulary"),
    [
        ("Gn 36", True),
        ("DR 72", True),
        ("L12-5 14MHZ", True),
        ("RT BREAST 10:00 3CMFN", True),
        ("D1 1.58 CM D2 0.96 CM", True),
        ("MI 1.1 TIS 0.4", True),
        ("VOL 1.23 ML", True),
        ("-6", True),
        ("12 35 45", False),  # a time of day whose colons were lost
        ("12:35", False),
        ("LT 12:00 SUBAREOLAR", True),
        ("KOWALSKA^ANNA", False),
        ("ANNA KOWALSKA", False),
        ("ID 03908483", False),
        ("03908483", False),
        ("ACC0412", False),
        ("AB12CD34", False),
        ("01/13/1982", False),
        ("1982-01-13", False),
        ("13.01.1982", False),
        ("555-0142", False),
        ("ST MARY WOMENS CLINIC", False),
        ("RT BREAST OKAFOR", False),
        ("", False),
    ],
)
def test_the_screen_vocabulary_holds_no_identifier(text, vocabulary):
    assert glyphs.is_screen_vocabulary(text) is vocabulary


def test_encode_and_decode_round_trip():
    labels = glyphs.encode("Gn 36")
    frames = np.full((12, len(glyphs.CHARSET) + 1), -20.0, np.float32)
    g, n, space, three, six = labels
    for k, cls in enumerate([g, 0, n, n, space, three, 0, six]):  # CTC: repeats merge
        frames[k, cls] = 0.0
    frames[8:, 0] = 0.0
    assert glyphs.decode(frames, 12).text == "GN 36"
    assert glyphs.decode(frames, 4).text == "GN"


def _frames(*rows: dict[str, float]) -> np.ndarray:
    """(T, C) log-probabilities: each row's classes (a character, or "" for the blank) with
    their probabilities, the rest of the mass spread over the other classes."""
    out = np.full((len(rows), len(glyphs.CHARSET) + 1), 1e-6, np.float32)
    for t, row in enumerate(rows):
        for char, p in row.items():
            out[t, glyphs.encode(char)[0] if char else 0] = p
    return np.log(out)


def test_a_characters_edge_is_no_doubt_but_another_character_is():
    """The confidence of a frame counts the classes that leave the text as it is: at the
    edge between a character and the blank both decode the same; two characters, or a blank
    that would join or split a double letter, do not."""
    edge = _frames({"A": 1.0}, {"A": 0.51, "": 0.49}, {"": 1.0}, {"B": 1.0}, {"": 1.0})
    assert glyphs.decode(edge, 5) == glyphs.Reading("AB", 1.0)
    other = _frames({"A": 1.0}, {"A": 0.51, "C": 0.49}, {"": 1.0}, {"B": 1.0}, {"": 1.0})
    assert glyphs.decode(other, 5) == glyphs.Reading("AB", 0.51)
    # "A A": the blank between the two A's at 0.51 keeps them apart, an A there joins them
    double = _frames({"A": 1.0}, {"": 0.51, "A": 0.49}, {"A": 1.0}, {"": 1.0})
    assert glyphs.decode(double, 4) == glyphs.Reading("AA", 0.51)
    # a lone character frame: the blank there would drop the character
    lone = _frames({"": 1.0}, {"A": 0.51, "": 0.49}, {"": 1.0})
    assert glyphs.decode(lone, 3) == glyphs.Reading("A", 0.51)
    # a blank frame before a character: the character there only starts it earlier
    early = _frames({"": 0.52, "A": 0.48}, {"A": 1.0}, {"": 1.0})
    assert glyphs.decode(early, 3) == glyphs.Reading("A", 1.0)


def test_the_reader_reads_screen_words_confidently_and_the_same_twice():
    frame = _screen(
        [("Gn 48", (20, 20)), ("RT BREAST 10:00 3CMFN", (20, 80)), ("DR 60", (20, 140))]
    )
    level = brightness(frame)
    boxes = ultrasound_ocr.find_text_lines(frame)
    images = [ultrasound_ocr.clean_line_image(level, box) for box in boxes]
    first = glyphs.line_reader().read(images)
    assert [r.text for r in first] == ["GN 48", "RT BREAST 10:00 3CMFN", "DR 60"]
    assert all(r.confidence >= glyphs.MIN_CONFIDENCE for r in first)
    assert glyphs.line_reader().read(images) == first


def test_vocabulary_lines_skip_tesseract_and_a_name_does_not(monkeypatch):
    require_tesseract_executable()
    name = "KOWALSKA^ANNA"
    frame = _screen([("Gn 48", (20, 20)), (name, (20, 80)), ("DR 60", (20, 140))])
    level = brightness(frame)
    boxes = ultrasound_ocr.find_text_lines(frame)
    learned = ultrasound_ocr.screen_vocabulary_lines(level, boxes)
    assert sorted(learned.values()) == ["DR 60", "GN 48"]
    name_box = [b for b in boxes if b not in learned]
    assert len(name_box) == 1

    read = []
    original = ultrasound_ocr.read_line

    def counting(lv, box, *image):
        read.append(box)
        return original(lv, box, *image)

    monkeypatch.setattr(ultrasound_ocr, "read_line", counting)
    reading = ultrasound_ocr.read_frame_text(frame, vocabulary_gate=True)
    assert read == name_box  # tesseract read the name line only
    assert "KOWALSKA" in reading.text.upper()


def test_the_verification_still_catches_identifiers_with_the_gate():
    """With the gate the verification finds at least what tesseract reading every line finds
    (fonts of the held-out families too; tesseract itself misreads the ID in the extra-light
    face)."""
    require_tesseract_executable()
    from cadbusi_assets.deid.ocr import ocr_identifiers, read_frame

    ids = OriginalIdentifiers(patient_names=("KOWALSKA^ANNA",), patient_ids=("03908483",))
    for face in ("sans", "serif", "mono_bold", "light", "bitmap", "condensed"):
        frame = _screen(
            [("Gn 48", (20, 20)), ("KOWALSKA^ANNA", (20, 70)), ("ID 03908483", (20, 120))],
            face=face,
            size=18,
        )
        gated = ocr_identifiers(frame, ids)
        assert set(gated) >= set(ocr_identifiers(frame, ids, read_frame(frame))), face
        assert "patient_name" in gated, face
        if face != "light":
            assert gated == ["patient_id", "patient_name"], face


def test_without_the_reader_tesseract_reads_every_line(monkeypatch):
    require_tesseract_executable()

    def broken() -> glyphs.LineReader:
        raise OSError("no weights")

    monkeypatch.setattr(glyphs, "line_reader", broken)
    frame = _screen([("Gn 48", (20, 20)), ("DR 60", (20, 140))])
    level = brightness(frame)
    assert (
        ultrasound_ocr.screen_vocabulary_lines(level, ultrasound_ocr.find_text_lines(frame)) == {}
    )
    gated = ultrasound_ocr.read_frame_text(frame, vocabulary_gate=True)
    assert gated == ultrasound_ocr.read_frame_text(frame)


def test_a_line_reads_the_same_alone_or_beside_other_lines():
    """A line's reading depends on its own pixels only, not on which lines share the pass
    (a frame's full set, the analysis area's subset, or the lines not cached yet in this
    process): the one pass and the stages, any run window, give the same fields. Before, the
    first line of a pass met the strip's zero padding and the others blank columns, and
    confidences moved by up to 0.28 with the company a line kept."""
    from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

    reader = glyphs.LineReader()  # no cache: every call runs the network
    compared = 0
    for family in TUNING_FAMILIES[:3]:
        frame = render_screen(family, 4242).frame
        level = brightness(frame)
        images = [
            ultrasound_ocr.clean_line_image(level, box)
            for box in ultrasound_ocr.find_text_lines(frame)
        ]
        together = reader._read(images)
        assert [reader._read([image])[0] for image in images] == together
        assert reader._read(images[::-1]) == together[::-1]
        compared += len(images)
    assert compared >= 10


def test_lines_read_in_one_strip_read_bit_for_bit_as_alone():
    """Many lines in one pass (the strip wider than a pass's limit, so split in passes too),
    each at other places in the strip: every reading (text and confidence) is the line's
    reading alone, and the log-probabilities of a line's frames are equal bit for bit."""
    import torch

    from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

    reader = glyphs.LineReader()
    images = []
    for family in TUNING_FAMILIES:
        frame = render_screen(family, 4343).frame
        level = brightness(frame)
        images += [
            ultrasound_ocr.clean_line_image(level, box)
            for box in ultrasound_ocr.find_text_lines(frame)
        ]
    widths = [-(-glyphs.input_image(i).shape[1] // glyphs.STRIDE) for i in images]
    assert sum(4 * w + glyphs.GAP for w in widths) > glyphs.MAX_PASS_COLUMNS
    alone = [reader._read([image])[0] for image in images]
    assert reader._read(images) == alone
    assert reader._read(images[1::2] + images[::2]) == alone[1::2] + alone[::2]
    # bit for bit: a line's frames in the strip against the line in a strip of its own
    pair = [glyphs.input_image(images[0]), glyphs.input_image(images[1])]
    strip = np.zeros((1, 1, glyphs.INPUT_HEIGHT, 3 * glyphs.GAP + 4 * sum(widths[:2])))
    strip[0, 0, :, glyphs.GAP : glyphs.GAP + pair[0].shape[1]] = pair[0]
    x = 2 * glyphs.GAP + 4 * widths[0]
    strip[0, 0, :, x : x + pair[1].shape[1]] = pair[1]
    own = np.zeros((1, 1, glyphs.INPUT_HEIGHT, 2 * glyphs.GAP + 4 * widths[1]))
    own[0, 0, :, glyphs.GAP : glyphs.GAP + pair[1].shape[1]] = pair[1]
    with torch.inference_mode():
        both = glyphs._logits(reader._convs, reader._sequence, torch.from_numpy(strip).float())
        one = glyphs._logits(reader._convs, reader._sequence, torch.from_numpy(own).float())
    start = x // glyphs.STRIDE
    gap = glyphs.GAP // glyphs.STRIDE
    assert torch.equal(both[..., start : start + widths[1]], one[..., gap : gap + widths[1]])


def test_the_fast_forward_reads_as_the_trained_network():
    """The reader's forward (batch norms folded into the convolutions, channels-last,
    :data:`~cadbusi_assets.ultrasound.glyphs.GAP` blank columns) reads the lines of 30
    generator frames as the trained ``LineNet`` module itself does between 48 blank columns:
    the same text, the same gate verdict, the confidence within float rounding."""
    import torch

    from cadbusi_assets.ultrasound.annotations import looks_misread
    from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

    reader = glyphs.LineReader()

    def reference(line: np.ndarray) -> glyphs.Reading:
        image = glyphs.input_image(line)
        frames = -(-image.shape[1] // glyphs.STRIDE)
        strip = np.zeros((1, 1, glyphs.INPUT_HEIGHT, 96 + frames * glyphs.STRIDE), np.float32)
        strip[0, 0, :, 48 : 48 + image.shape[1]] = image
        with torch.inference_mode():
            probs = reader.model(torch.from_numpy(strip).to(reader.device)).cpu().numpy()
        start = 48 // glyphs.STRIDE
        return glyphs.decode(probs[start : start + frames, 0, :], frames)

    def verdict(r: glyphs.Reading) -> bool:
        return (
            r.confidence >= glyphs.MIN_CONFIDENCE
            and glyphs.is_screen_vocabulary(r.text)
            and not looks_misread(r.text)
        )

    compared = 0
    for family in TUNING_FAMILIES:
        for seed in range(700, 706):
            frame = render_screen(family, seed).frame
            level = brightness(frame)
            images = [
                ultrasound_ocr.clean_line_image(level, box)
                for box in ultrasound_ocr.find_text_lines(frame)
            ]
            for image, fast in zip(images, reader._read(images), strict=True):
                slow = reference(image)
                assert fast.text == slow.text, (family, seed)
                assert abs(fast.confidence - slow.confidence) <= 2e-4, (family, seed)
                assert verdict(fast) == verdict(slow), (family, seed)
                compared += 1
    assert compared >= 150


@pytest.mark.parametrize(
    ("text", "free"),
    [
        ("M 0.6 TS 0.3", True),  # "MI 0.6 TIs 0.3" misread
        ("VL 0.03 ML", True),
        ("3:30", True),  # a clock drawn apart from its distance
        ("&", True),
        ("GN 36", True),
        ("AN NA", False),  # "ANNA" once the spaces are out
        ("KOWALSKA", False),
        ("K0 WA L5 KA", False),  # a name with look-alike digits
        ("ID 039 084", False),  # digits that join into an ID
        ("03908483", False),
        ("1.2.82", False),
        ("01/13/1982", False),
        ("13-JAN-82", False),
        ("555-0142", False),
        ("LEE", False),
        ("RT BREAST OKAFOR", False),
        ("", False),
    ],
)
def test_a_reading_holds_no_identifier_only_in_short_words_and_numbers(text, free):
    assert glyphs.holds_no_identifier(text) is free


def test_the_verification_spares_tesseract_a_clock_but_not_a_name(monkeypatch):
    """A verification that parses no annotation (``fields=False``) keeps the learned reading
    of a line that holds no identifier (a clock drawn alone is no screen vocabulary: a time
    of day looks the same); the name still goes to tesseract, and the annotation reading
    (``fields=True``) still reads the clock with tesseract."""
    require_tesseract_executable()
    name = "KOWALSKA^ANNA"
    frame = _screen([("Gn 48", (20, 20)), (name, (20, 80)), ("10:30", (20, 140))])
    boxes = ultrasound_ocr.find_text_lines(frame)
    readings = ultrasound_ocr.learned_readings(brightness(frame), boxes)
    assert readings is not None
    by_text = {
        text: (box, confidence) for box, (text, _, confidence) in zip(boxes, readings, strict=True)
    }
    clock_box, clock_confidence = by_text["10:30"]
    assert clock_confidence >= glyphs.NO_IDENTIFIER_CONFIDENCE
    assert not glyphs.is_screen_vocabulary("10:30")

    read: list = []
    original = ultrasound_ocr.read_line

    def counting(lv, box, *image):
        read.append(box)
        return original(lv, box, *image)

    monkeypatch.setattr(ultrasound_ocr, "read_line", counting)
    verification = ultrasound_ocr.read_frame_text(frame, vocabulary_gate=True, fields=False)
    assert len(read) == 1 and read[0] != clock_box
    assert "KOWALSKA" in verification.text.upper() and "10:30" in verification.text
    read.clear()
    ultrasound_ocr.read_frame_text(frame, vocabulary_gate=True)
    assert clock_box in read and len(read) == 2


def test_no_name_id_date_or_phone_line_reads_as_holding_no_identifier():
    """The verification's second gate (:func:`~cadbusi_assets.ultrasound.glyphs.holds_no_identifier`
    at :data:`~cadbusi_assets.ultrasound.glyphs.NO_IDENTIFIER_CONFIDENCE`) spares tesseract
    no line holding a name, ID, date or phone number, in any face of the generator, on black
    or on speckle."""
    from cadbusi_assets.ultrasound.ocr import _no_identifier

    rng = np.random.default_rng(11)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    faces = ("sans", "sans_bold", "mono", "condensed", "serif", "light", "bitmap")

    def text(kind: int) -> str:
        if kind == 0:
            parts = ["".join(rng.choice(list(letters), int(rng.integers(3, 9)))) for _ in "ab"]
            return "^".join(parts) if rng.random() < 0.5 else " ".join(parts)
        if kind == 1:
            return "ID " + "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(5, 9))))
        if kind == 2:
            d, m, y = (
                int(rng.integers(1, 29)),
                int(rng.integers(1, 13)),
                int(rng.integers(1930, 2020)),
            )
            return (f"{m:02d}/{d:02d}/{y}", f"{d:02d}.{m:02d}.{y}", f"{m}/{d}/{y % 100:02d}")[
                int(rng.integers(3))
            ]
        return f"{int(rng.integers(200, 999))}-{int(rng.integers(1000, 9999))}"

    images, truths = [], []
    for k in range(100):
        truth = text(k % 4)
        frame = _screen([(truth, (20, 100))], face=faces[k % len(faces)], size=10 + k % 13)
        columns = np.flatnonzero(frame.max(axis=(0, 2)) > 0)
        if k % 2:
            speckle = rng.integers(0, 90, frame.shape[:2]).astype(np.uint8)[:, :, None]
            frame = np.maximum(frame, speckle)
        level = brightness(frame)
        boxes = ultrasound_ocr.find_text_lines(frame)
        # a box that holds the whole text (on speckle the detector can miss a thin face's
        # end: a box of "ID 5" alone holds no identifier, and reads so)
        whole = [b for b in boxes if b[0] <= columns[0] + 2 and b[2] >= columns[-1] - 2]
        images += [ultrasound_ocr.clean_line_image(level, box) for box in whole]
        truths += [truth] * len(whole)
    assert len(images) >= 80
    readings = glyphs.line_reader().read(images)
    spared = [
        (truth, r.text)
        for truth, r in zip(truths, readings, strict=True)
        if _no_identifier(r.text, r.confidence)
    ]
    assert spared == []


@pytest.mark.parametrize("shape", [(1, 16, 24, 1100), (2, 32, 12, 551), (1, 48, 7, 30)])
@pytest.mark.parametrize("pool", [(2, 2), (2, 1)])
def test_the_readers_pooling_is_max_pool2d_bit_for_bit(shape, pool):
    """The forward's strided-maxima pooling gives exactly ``F.max_pool2d``'s values (odd
    sides floored), pooled before or after the ReLU; other pool sizes are refused."""
    import torch
    import torch.nn.functional as F

    x = torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))
    expected = F.max_pool2d(F.relu(x), pool, pool)
    assert torch.equal(F.relu(glyphs._max_pool(x, pool)), expected)
    assert torch.equal(glyphs._max_pool(F.relu(x), pool), expected)
    with pytest.raises(ValueError, match="sides of 1 or 2"):
        glyphs._max_pool(x, (3, 3))
