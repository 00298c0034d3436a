"""Burned-in annotation OCR with the Debian ``tesseract-ocr`` engine (no model downloads).

1. :func:`find_text_lines` finds text lines with the detector shared with the
   de-identification's OCR verification (:func:`cadbusi_assets.ultrasound.textlines.find_text`):
   thin bright strokes smeared into lines, kept when they are text rather than speckle (glyphs
   of one height on a baseline, thin strokes, on a flat background or one colour over
   speckle). Calipers (single square marks) and dotted lines do not pass.
2. :class:`Tesseract` reads each line crop (inverted to dark-on-light, scaled to a ~40 px line
   height) in-process through ``libtesseract``'s C API (ctypes; ~5-15 ms a line with
   ``OMP_THREAD_LIMIT=1``), or through the ``tesseract`` command (pytesseract) when the library
   cannot be loaded. Results are cached per line image, so UI text repeated on every frame of
   a device (menus, scales, the annotation of a cine) is read once per process.

>>> import numpy as np, cv2
>>> grey = np.zeros((80, 300), np.uint8)
>>> _ = cv2.putText(grey, "LT BREAST", (10, 50), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
>>> [(x0 <= 12, y0 <= 36, x1 >= 130) for x0, y0, x1, y1 in find_text_lines(grey)]
[(True, True, True)]

:func:`read_frame_text` finds and reads every line of a frame once (:class:`FrameText`); the
de-identification's verification (:func:`cadbusi_assets.deid.ocr.ocr_text`) and the annotation
reading (:func:`cadbusi_assets.ultrasound.analysis.analyze_frame`) both accept that reading, so a
caller that has it reads no line twice. Its text is PHI until parsed: only the parsed fields
(:mod:`cadbusi_assets.ultrasound.annotations`) may leave the raw zone.
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import shutil
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from cadbusi_assets.ultrasound.overlay import ColourMaps
from cadbusi_assets.ultrasound.textlines import _one_thread, _Reused, brightness, find_text

Box = tuple[int, int, int, int]

#: Line images are scaled to this height for tesseract; misread-looking lines are read again
#: at the other heights (small glyphs such as ':' and '.' come out at some scales only).
TARGET_LINE_HEIGHT = 26
RETRY_LINE_HEIGHTS = (32, 40)
#: Fields of a line are separated by dark gaps at least this many line heights wide.
WORD_GAP = 0.55
CACHE_SIZE = 4096


def find_text_lines(
    frame: np.ndarray,
    fov_mask: np.ndarray | None = None,
    *,
    area: Box | None = None,
    grey: np.ndarray | None = None,
    maps: ColourMaps | None = None,
) -> list[Box]:
    """Boxes (inclusive, full-frame) of text lines, top to bottom, left to right, found by
    the shared detector (:func:`~cadbusi_assets.ultrasound.textlines.find_text`) inside
    ``area`` (the whole frame by default). ``maps`` (the RGB frame's
    :class:`~.overlay.ColourMaps`, if the caller has them): their ``high`` map is the
    detector's brightness (:func:`.textlines.brightness`, the brightest channel), not
    computed again. ``fov_mask`` and ``grey`` are accepted for compatibility: the detector
    tells text from speckle without a field-of-view mask."""
    del fov_mask, grey
    level = maps.high if maps is not None and frame.ndim == 3 and frame.shape[2] == 3 else None
    return [line.box for line in _found_lines(frame, area, level)]


@dataclass(frozen=True)
class _Found:
    box: Box
    strip: bool = False


def _found_lines(
    frame: np.ndarray, area: Box | None, level: np.ndarray | None = None
) -> list[_Found]:
    """The lines and areas :func:`find_text` finds in ``frame`` (inside ``area``), in frame
    coordinates; ``level``: the frame's :func:`brightness` when the caller has it (8-bit
    frames: a crop's brightness is the crop of the frame's)."""
    ox, oy = 0, 0
    if area is not None:
        ox, oy = area[0], area[1]
        frame = frame[area[1] : area[3] + 1, area[0] : area[2] + 1]
        if level is not None:
            level = np.ascontiguousarray(level[area[1] : area[3] + 1, area[0] : area[2] + 1])
    found = find_text(frame, level=level)
    return [_Found((b[0] + ox, b[1] + oy, b[2] + ox, b[3] + oy)) for b in found.lines] + [
        _Found((b[0] + ox, b[1] + oy, b[2] + ox, b[3] + oy), True) for b in found.unresolved
    ]


def merge_words(boxes: Sequence[Box]) -> list[Box]:
    """Join boxes on one text line (vertical overlap >= 60 %, gap <= 1.2 line heights):
    tesseract reads a short word such as "LT" far better within its line."""
    merged = sorted(boxes, key=lambda b: (b[0], b[1]))
    changed = True
    while changed:
        changed = False
        out: list[Box] = []
        for box in merged:
            for k, other in enumerate(out):
                overlap = min(box[3], other[3]) - max(box[1], other[1]) + 1
                height = min(box[3] - box[1], other[3] - other[1]) + 1
                gap = max(box[0], other[0]) - min(box[2], other[2]) - 1
                if (
                    overlap >= 0.6 * height
                    and gap <= 1.2 * max(box[3] - box[1], other[3] - other[1]) + 1
                ):
                    out[k] = (
                        min(box[0], other[0]),
                        min(box[1], other[1]),
                        max(box[2], other[2]),
                        max(box[3], other[3]),
                    )
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return merged


def line_image(grey: np.ndarray, box: Box, pad: int = 4, height: int | None = None) -> np.ndarray:
    """Dark text on a light background, scaled to about ``height`` (default
    :data:`TARGET_LINE_HEIGHT`) pixels."""
    x0, y0, x1, y1 = box
    crop = grey[max(0, y0 - pad) : y1 + pad + 1, max(0, x0 - pad) : x1 + pad + 1]
    target = TARGET_LINE_HEIGHT if height is None else height
    scale = min(4.0, max(1.0, target / float(y1 - y0 + 1)))
    if scale > 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(255 - crop)


#: Tesseract variables the engine is started with (:class:`_CApi`: at ``TessBaseAPIInit4``,
#: then ``TessBaseAPISetVariable``; the command: ``-c``). ``tessedit_do_invert=0``: no
#: second, inverted reading of a line tesseract reads with low confidence (every line image
#: it gets is dark on light already; a variable of every tesseract 5, the library loaded;
#: ``invert_threshold=0``, from 5.3 on, gives the same readings):
#: 4 % less CPU a line, 30 % a strip of a bright area, no identifier caught or field read
#: less (``python -m benchmarks.tesseract_settings``). Measured with no effect: the
#: ``load_*_dawg`` variables and ``tessedit_enable_doc_dict`` (the LSTM engine loads its own
#: dictionaries). Measured and rejected, each losing synthetic identifier lines the stock
#: engine catches (of 2000, tuning material): ``lstm_use_matrix=0`` (-2 % CPU, 64 lost), PSM 13
#: (-8 %, 97 lost), tesseract's images scaled to 20 px lines (-5 %, 73 lost); a printable-ASCII
#: ``tessedit_char_whitelist`` is no faster and changes most readings.
TESSERACT_VARIABLES: dict[str, str] = {"tessedit_do_invert": "0"}


def openmp_thread_limit() -> int | None:
    """The thread limit of the OpenMP runtime that tesseract runs on (``libgomp.so.1``, the
    copy already loaded when there is one: torch's), None where there is none to ask. The
    runtime reads ``OMP_THREAD_LIMIT`` once, when it is loaded."""
    try:
        return int(ctypes.CDLL("libgomp.so.1").omp_get_thread_limit())
    except (OSError, AttributeError):
        return None


#: What :class:`_CApi` warns when tesseract would run its LSTM on several threads.
OPENMP_WARNING = (
    "tesseract will run on several OpenMP threads: the OpenMP runtime was loaded before "
    "cadbusi_assets set OMP_THREAD_LIMIT=1 (torch imported first?), and its spin-waiting "
    "threads cost about 5x the CPU per line read; import cadbusi_assets before torch, or set "
    "OMP_THREAD_LIMIT=1 in the environment before starting Python"
)


class _CApi:
    """Minimal ctypes binding of tesseract's C API (capi.h). ``variables``: tesseract
    variables (name to value) set at ``Init`` (default :data:`TESSERACT_VARIABLES`);
    :class:`ValueError` for a name tesseract does not know."""

    PSM_SINGLE_LINE = 7
    OEM_DEFAULT = 3

    def __init__(self, variables: dict[str, str] | None = None, psm: int | None = None) -> None:
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # OpenMP spin-waits cost 10x on 2 cores
        variables = dict(TESSERACT_VARIABLES if variables is None else variables)
        lib = ctypes.CDLL("libtesseract.so.5")
        limit = openmp_thread_limit()
        if os.environ.get("OMP_THREAD_LIMIT") == "1" and limit is not None and limit > 1:
            # the environment asks for one thread, the runtime started before it did (measured
            # with torch imported first: 48 CPU ms a line instead of 9.8, held-out screens)
            warnings.warn(OPENMP_WARNING, RuntimeWarning, stacklevel=2)
        lib.TessBaseAPICreate.restype = ctypes.c_void_p
        lib.TessBaseAPIInit4.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_size_t,
            ctypes.c_int,
        ]
        lib.TessBaseAPISetVariable.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
        lib.TessBaseAPISetVariable.restype = ctypes.c_int
        lib.TessBaseAPISetPageSegMode.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.TessBaseAPISetImage.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
        ]
        lib.TessBaseAPISetSourceResolution.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.TessBaseAPIGetUTF8Text.restype = ctypes.c_void_p
        lib.TessBaseAPIGetUTF8Text.argtypes = [ctypes.c_void_p]
        lib.TessDeleteText.argtypes = [ctypes.c_void_p]
        lib.TessBaseAPIEnd.argtypes = [ctypes.c_void_p]
        lib.TessBaseAPIDelete.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.api = lib.TessBaseAPICreate()
        names = [name.encode() for name in variables]
        values = [value.encode() for value in variables.values()]
        if (
            lib.TessBaseAPIInit4(
                self.api,
                None,
                b"eng",
                self.OEM_DEFAULT,
                None,
                0,
                (ctypes.c_char_p * max(1, len(names)))(*names),
                (ctypes.c_char_p * max(1, len(values)))(*values),
                len(names),
                0,
            )
            != 0
        ):
            lib.TessBaseAPIDelete(self.api)
            raise OSError("tesseract could not load the 'eng' language data")
        for name, value in zip(names, values, strict=True):
            # an init-time variable is applied by Init4 only (SetVariable refuses it); any
            # other is set again here, which tells an unknown name (0) from a known one
            if not lib.TessBaseAPISetVariable(self.api, name, value) and not name.startswith(
                b"load_"
            ):
                self.close()
                raise ValueError(f"tesseract has no variable {name.decode()!r}")
        lib.TessBaseAPISetPageSegMode(self.api, self.PSM_SINGLE_LINE if psm is None else psm)

    def read(self, image: np.ndarray) -> str:
        image = np.ascontiguousarray(image, dtype=np.uint8)
        height, width = image.shape
        self.lib.TessBaseAPISetImage(self.api, image.ctypes.data, width, height, 1, width)
        self.lib.TessBaseAPISetSourceResolution(self.api, 300)
        pointer = self.lib.TessBaseAPIGetUTF8Text(self.api)
        if not pointer:
            return ""
        try:
            return ctypes.string_at(pointer).decode("utf-8", "replace")
        finally:
            self.lib.TessDeleteText(pointer)

    def close(self) -> None:
        if self.api:
            self.lib.TessBaseAPIEnd(self.api)
            self.lib.TessBaseAPIDelete(self.api)
            self.api = None


class _Cli:
    """The ``tesseract`` command through pytesseract (one process per line: slower)."""

    def read(self, image: np.ndarray) -> str:
        import pytesseract

        config = " ".join(f"-c {name}={value}" for name, value in TESSERACT_VARIABLES.items())
        return pytesseract.image_to_string(image, lang="eng", config=f"--psm 7 {config}")

    def close(self) -> None:
        return None


class TesseractUnavailable(RuntimeError):
    """Neither libtesseract nor the tesseract command is installed."""


class Tesseract:
    """Reads single text lines; one engine per process, results cached per line image."""

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self._engine: _CApi | _Cli | None = None
        self._cache: OrderedDict[bytes, str] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.backend: str | None = None
        self.hits = 0
        self.misses = 0

    def _start(self) -> _CApi | _Cli:
        if self._engine is None:
            try:
                self._engine = _CApi()
                self.backend = "libtesseract"
            except OSError:
                if shutil.which("tesseract") is None:
                    raise TesseractUnavailable(
                        "tesseract is not installed (apt-get install tesseract-ocr)"
                    ) from None
                self._engine = _Cli()
                self.backend = "tesseract-cli"
        return self._engine

    def read_line(self, image: np.ndarray) -> str:
        key = hashlib.blake2b(
            image.tobytes(), digest_size=16, person=str(image.shape).encode()[:16]
        ).digest()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.hits += 1
                return cached
            self.misses += 1
            text = " ".join(self._start().read(image).split())
            self._cache[key] = text
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return text

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None


_ENGINE: Tesseract | None = None


def engine() -> Tesseract:
    """The process-wide engine (closed at exit, which keeps tesseract's leak checker quiet)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Tesseract()
        atexit.register(_ENGINE.close)
    return _ENGINE


def tesseract_available() -> bool:
    try:
        engine()._start()
    except TesseractUnavailable:
        return False
    return True


def split_words(grey: np.ndarray, box: Box) -> list[Box]:
    """Split a line box at wide gaps (dark columns at least :data:`WORD_GAP` line heights
    wide) into the separately drawn fields of an annotation ("4:00" | "7 CM FN").

    Text drawn on speckle has no dark gaps and stays one piece."""
    x0, y0, x1, y1 = box
    ink = np.asarray((grey[y0 : y1 + 1, x0 : x1 + 1] >= 100).any(axis=0))
    gap = max(5, round(WORD_GAP * (y1 - y0 + 1)))
    words: list[Box] = []
    start, dark = None, 0
    for offset, lit in enumerate(ink):
        if lit:
            if start is None:
                start = offset
            dark = 0
            end = offset
        elif start is not None:
            dark += 1
            if dark >= gap:
                words.append((x0 + start, y0, x0 + end, y1))
                start, dark = None, 0
    if start is not None:
        words.append((x0 + start, y0, x0 + end, y1))
    # A short word ("LT") reads far better with its neighbour: keep it joined.
    height = y1 - y0 + 1
    joined: list[Box] = []
    for word in words:
        if joined and (
            word[2] - word[0] + 1 < 2 * height or joined[-1][2] - joined[-1][0] + 1 < 2 * height
        ):
            joined[-1] = (joined[-1][0], y0, word[2], y1)
        else:
            joined.append(word)
    return joined or [box]


def read_text_lines(grey: np.ndarray, boxes: Sequence[Box]) -> list[str]:
    """OCR text of each line box (empty string where nothing was read).

    Each line is read field by field (:func:`split_words`): scanners draw the same fields
    pixel for pixel again and again ("LT BREAST", "4:00", "3 CM FN"), so most fields come
    from the per-process cache and only new ones reach tesseract; the text of a field depends
    on its own pixels only, so results do not depend on what was read before. A line that
    looks misread (:func:`~.annotations.looks_misread`) is read again whole at other scales
    and the first clean reading wins.
    """
    from cadbusi_assets.ultrasound.annotations import looks_misread

    reader = engine()
    texts = []
    for box in boxes:
        words = [reader.read_line(line_image(grey, word)) for word in split_words(grey, box)]
        text = " ".join(word for word in words if word)
        if looks_misread(text):
            for height in (TARGET_LINE_HEIGHT, *RETRY_LINE_HEIGHTS):
                again = reader.read_line(line_image(grey, box, height=height))
                if again and not looks_misread(again):
                    text = again
                    break
        texts.append(text)
    return texts


# ---------------------------------------------------------------------------------------
# One reading per frame, shared by the de-identification's verification and the analysis

#: Inside a line box, pixels below this percentile of the box (or below
#: :func:`reading_floor`) are background for reading.
BACKGROUND_PERCENTILE = 60
#: Line images are scaled to about this height, at most :data:`MAX_UPSCALE` times.
LINE_HEIGHT = 26
MAX_UPSCALE = 4.0
#: A bright area that is not a set of lines is read in overlapping strips this high.
STRIP_HEIGHTS = (24, 40)


@dataclass(frozen=True)
class TextLine:
    """One line of text read in a frame (the text is PHI until parsed)."""

    box: Box
    text: str


@dataclass(frozen=True)
class FrameText:
    """Every line found in a frame, read once; ``strips`` are the texts read in strips of
    bright areas that do not come apart into lines (a trace with text glued to it)."""

    lines: tuple[TextLine, ...] = ()
    strips: tuple[str, ...] = ()

    @property
    def boxes(self) -> list[Box]:
        return [line.box for line in self.lines]

    @property
    def text(self) -> str:
        """All text read, one line per text line (PHI: never store or log it)."""
        texts = [line.text for line in self.lines] + list(self.strips)
        return "\n".join(t.strip() for t in texts if t.strip())

    def within(self, area: Box | None) -> FrameText:
        """The lines whose box meets ``area`` (all of them when ``area`` is None)."""
        if area is None:
            return self
        x0, y0, x1, y1 = area
        return FrameText(
            tuple(
                line
                for line in self.lines
                if line.box[0] <= x1
                and x0 <= line.box[2]
                and line.box[1] <= y1
                and y0 <= line.box[3]
            )
        )


#: A line whose brightest strokes (98th percentile of its box) stay under this level is grey
#: text (:data:`~cadbusi_assets.ultrasound.textlines.DIM_TEXT_LEVEL` strokes, found on dark
#: bands): its strokes are kept from the dim level, not from ``TEXT_LEVEL``.
GREY_LINE_STROKES = 190


def reading_floor(inside: np.ndarray) -> int:
    """The lowest level of a line's strokes for reading: ``TEXT_LEVEL`` for bright text,
    ``DIM_TEXT_LEVEL`` for a grey line (which ``TEXT_LEVEL`` would erase whole).

    >>> reading_floor(np.array([0, 0, 240], np.uint8)), reading_floor(np.array([0, 0, 125], np.uint8))
    (150, 100)
    """
    return _stroke_floor(float(np.percentile(inside, 98)) if inside.size else 0.0)


def _stroke_floor(strokes: float) -> int:
    from cadbusi_assets.ultrasound.textlines import DIM_TEXT_LEVEL, TEXT_LEVEL

    return TEXT_LEVEL if strokes >= GREY_LINE_STROKES else DIM_TEXT_LEVEL


def _window(box: Box) -> tuple[slice, slice]:
    """Rows and columns of a brightness image that :func:`clean_line_image` reads for
    ``box``: the box and a margin of an eighth of its height (at least 4 px)."""
    x0, y0, x1, y1 = box
    pad = max(4, (y1 - y0 + 1) // 8)
    return slice(max(0, y0 - pad), y1 + pad + 1), slice(max(0, x0 - pad), x1 + pad + 1)


def _percentiles(values: np.ndarray, *percents: float) -> list[float]:
    """``np.percentile(values, percents)`` (its linear method: the same floats, its own
    arithmetic) from one partition of the values, without numpy's overhead (most of a
    call's cost on a line's box).

    >>> v = np.array([[3, 250, 7], [90, 0, 128]], np.uint8)
    >>> _percentiles(v, 60, 98) == list(np.percentile(v, [60, 98]))
    True
    """
    flat = values.ravel()
    last = flat.size - 1
    spots = []
    for percent in percents:
        virtual = last * (percent / 100)
        low = last if virtual >= last else int(np.floor(virtual))
        spots.append((virtual, low, min(low + 1, last)))
    ordered = np.partition(flat, sorted({k for _, low, high in spots for k in (low, high)}))
    out = []
    for virtual, low, high in spots:
        a, b = ordered[low].item(), ordered[high].item()
        gamma = virtual - low
        diff = b - a
        out.append(float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma))
    return out


def clean_line_image(level: np.ndarray, box: Box, height: int = LINE_HEIGHT) -> np.ndarray:
    """Dark text on light for one line of a brightness image, scaled to about ``height``
    px. Pixels darker than the text (speckle around it) become background: below the line's
    :func:`reading_floor` or the :data:`BACKGROUND_PERCENTILE` of its box."""
    x0, y0, x1, y1 = box
    rows = y1 - y0 + 1
    crop = level[_window(box)]
    background, strokes = _percentiles(level[y0 : y1 + 1, x0 : x1 + 1], BACKGROUND_PERCENTILE, 98)
    floor = max(_stroke_floor(float(strokes)), int(background))
    # keeps the pixels above floor - 1, i.e. at least floor (np.where(crop >= floor, crop, 0))
    crop = cv2.threshold(crop, floor - 1, 0, cv2.THRESH_TOZERO)[1]
    scale = min(MAX_UPSCALE, height / float(rows))
    if scale < 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    elif scale > 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return cv2.bitwise_not(crop)


#: The brightness image :func:`read_frame_text` finds and reads a frame's lines on, kept from
#: one frame to the next on a thread (no line image outlives the call: each is a new array).
_READING = _Reused()


def _line_level(frame: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """The brightness image of ``frame`` (:func:`brightness`) where :func:`clean_line_image`
    reads it for ``boxes`` (their windows); zero elsewhere. Computed in those windows alone
    when the brightness of a pixel depends on that pixel only (8-bit frames: the lines of a
    frame cover a few percent of it), else for the whole frame (a frame of more bits is
    scaled to its own maximum)."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        return brightness(frame)
    level = np.zeros(frame.shape[:2], np.uint8)
    for box in boxes:
        window = _window(box)
        level[window] = brightness(frame[window])
    return level


def strips(box: Box) -> list[Box]:
    """Overlapping horizontal strips of ``box``, each :data:`STRIP_HEIGHTS` high, half a
    strip apart: any line of text up to half a strip high lies whole in one of them.

    >>> strips((0, 0, 99, 59))
    [(0, 0, 99, 23), (0, 12, 99, 35), (0, 24, 99, 47), (0, 36, 99, 59), (0, 0, 99, 39), (0, 20, 99, 59)]
    """
    x0, y0, x1, y1 = box
    out: list[Box] = []
    for height in STRIP_HEIGHTS:
        last = max(y0, y1 - height + 1)
        tops = sorted({*range(y0, last + 1, height // 2), last})
        out += [(x0, top, x1, min(y1, top + height - 1)) for top in tops]
    return out


def read_line(level: np.ndarray, box: Box, image: np.ndarray | None = None) -> str:
    """Text of one line of a brightness image (``image``: its :func:`clean_line_image`, when
    the caller has it); a line that looks misread (a clock or distance not read cleanly) is
    read again at other heights and the first clean reading wins."""
    from cadbusi_assets.ultrasound.annotations import looks_misread

    reader = engine()
    text = reader.read_line(clean_line_image(level, box) if image is None else image)
    if looks_misread(text):
        for height in RETRY_LINE_HEIGHTS:
            again = reader.read_line(clean_line_image(level, box, height))
            if again and not looks_misread(again):
                return again
    return text


def read_boxes(frame: np.ndarray, boxes: Sequence[Box]) -> list[str]:
    """Text of each line box of ``frame`` as :func:`read_frame_text` reads it."""
    level = brightness(frame)
    return [read_line(level, box) for box in boxes]


def learned_readings(
    level: np.ndarray, boxes: Sequence[Box]
) -> list[tuple[str, bool, float]] | None:
    """The learned line reader's text of each line of ``boxes``
    (:mod:`cadbusi_assets.ultrasound.glyphs`), whether it read the line confidently as the
    screen's own vocabulary (gain, probe, annotation, measurements: no name, ID or date), and
    its confidence; None when the reader cannot run (no torch, no weights)."""
    return _learned_readings([clean_line_image(level, box) for box in boxes])


def _learned_readings(images: Sequence[np.ndarray]) -> list[tuple[str, bool, float]] | None:
    """:func:`learned_readings` of lines' :func:`clean_line_image`."""
    if not images:
        return []
    try:
        from cadbusi_assets.ultrasound.glyphs import (
            MIN_CONFIDENCE,
            is_screen_vocabulary,
            line_reader,
        )

        readings = line_reader().read(list(images))
    except (ImportError, OSError, RuntimeError):
        return None
    from cadbusi_assets.ultrasound.annotations import looks_misread

    # a clock or distance the model did not read cleanly ("8:00 CMFN": a thin "1" lost) goes
    # to tesseract, as tesseract's own misread-looking lines are read again
    return [
        (
            r.text,
            r.confidence >= MIN_CONFIDENCE
            and is_screen_vocabulary(r.text)
            and not looks_misread(r.text),
            r.confidence,
        )
        for r in readings
    ]


def _no_identifier(text: str, confidence: float, image: np.ndarray | None = None) -> bool:
    """A learned reading that spares tesseract in a verification that parses no annotation:
    read with at least :data:`~.glyphs.NO_IDENTIFIER_CONFIDENCE`, holding no identifier
    (:func:`~.glyphs.holds_no_identifier`) and, given the line's ``image``, explaining its ink
    (:func:`~.glyphs.explains_ink`: a short reading of a line with a graphic in it, such as an
    identifier in a box or glued to a body mark, is no proof)."""
    from cadbusi_assets.ultrasound.glyphs import (
        NO_IDENTIFIER_CONFIDENCE,
        explains_ink,
        holds_no_identifier,
    )

    return (
        confidence >= NO_IDENTIFIER_CONFIDENCE
        and holds_no_identifier(text)
        and (image is None or explains_ink(text, image))
    )


def screen_vocabulary_lines(level: np.ndarray, boxes: Sequence[Box]) -> dict[Box, str]:
    """The lines of ``boxes`` that the learned line reader reads confidently as the screen's
    own vocabulary (:func:`learned_readings`), with their text; empty when the reader cannot
    run: then tesseract reads every line."""
    readings = learned_readings(level, boxes)
    if readings is None:
        return {}
    return {
        box: text for box, (text, vocabulary, _) in zip(boxes, readings, strict=True) if vocabulary
    }


#: An annotation line (:func:`~.annotations.has_fields`) that the learned reader reads as
#: the screen's own words with at least this confidence keeps its reading alone: tesseract's
#: second reading (:func:`annotation_text`) is asked only below it. Chosen on the tuning
#: families (30 frames each, seeds 20261202-20261231: 244 second readings) and the demo style
#: (60 frames: 143) with ``python -m benchmarks.annotation_sure``: with tesseract on every
#: annotation line 638 of 665 tuning fields and 287 of 290 demo fields come out right;
#: trusting readings of at least 0.9 spares 78 % of the tuning second readings and 87 % of
#: the demo ones for 639 and 287 (0.8: 640 and 287; 0.7: 642 and 287; 0.5, every line: 643
#: and 284, the demo's three clocks read confidently wrong between 0.5 and 0.7: "12:30" as
#: "2:30"). The verification loses nothing: these lines are vocabulary lines, whose learned
#: reading alone a verification that parses no annotation keeps already.
ANNOTATION_SURE = 0.9


def annotation_text(
    level: np.ndarray, box: Box, learned: str, image: np.ndarray | None = None
) -> tuple[str, str]:
    """The text of a line the learned reader read as the screen's own words (``learned``),
    and a second reading of it for the identifier matching ("" when there is none);
    ``image``: the line's :func:`clean_line_image`, when the caller has it.

    A line of the annotation (the learned reading names a side, clock, distance, orientation
    or body area: :func:`~.annotations.has_fields`) is read by tesseract too, and its fields
    are merged: the words (side, orientation, body area) from the learned reading, which
    reads the screen's words well even where tesseract garbles a letter ("RF BREAST",
    "TRY"); the numbers (clock, distance) from tesseract where each is read cleanly
    (:func:`~.annotations.clean_numbers`: "400 3CMFN" still gives 3 cm), as the learned
    reader can drop or mistake a digit, confidently too ("12:30" read "2:30", "3 CM FN" read
    "8 CM FN" on the demo screens, which linked three lesion images to no lesion); each from
    the other reading where one has none. The line's text is then the merged fields written
    out (:func:`~.annotations.fields_text`), and tesseract's own text the second reading.
    Chosen on the tuning families and the demo style. Every other vocabulary line ("Gn 36",
    "L12-5", "D1 1.58 cm") keeps the learned reading: no tesseract. :func:`read_frame_text`
    asks this only of lines read with less than :data:`ANNOTATION_SURE` (with the line
    reader of 317b21b and after, a sure reading is as right as the merged one).
    """
    from cadbusi_assets.ultrasound.annotations import (
        clean_numbers,
        fields_text,
        has_fields,
        parse_annotation,
    )

    if not has_fields(learned):
        return learned, ""
    text = read_line(level, box, image)
    if not text:
        return learned, ""
    model = parse_annotation(learned)
    tess = parse_annotation(text)
    clock, distance = clean_numbers(text)
    merged = replace(
        model,
        laterality=model.laterality or tess.laterality,
        orientation=model.orientation or tess.orientation,
        body_area=model.body_area or tess.body_area,
        clock_position=clock or model.clock_position,
        nipple_distance_cm=distance if distance is not None else model.nipple_distance_cm,
    )
    if merged == tess:
        return text, learned
    return (fields_text(merged) or text), text


def read_frame_text(
    frame: np.ndarray,
    *,
    area: Box | None = None,
    vocabulary_gate: bool = False,
    fields: bool = True,
) -> FrameText:
    """Find every text line of ``frame`` (inside ``area``, default the whole frame) with
    the shared detector and read each once (:class:`TesseractUnavailable` without
    tesseract). Static text repeated on frames (UI, the annotation of a cine) comes from the
    engine's per-process cache.

    ``vocabulary_gate``: lines the learned reader reads confidently as the screen's own
    vocabulary (:func:`learned_readings`) keep its text and skip tesseract, except the
    annotation's own lines read with less than :data:`ANNOTATION_SURE`, read by both
    (:func:`annotation_text`) unless ``fields`` is False (a verification that parses no
    annotation: the learned reading is kept, as for every vocabulary line, and so is a
    reading that holds no identifier at all, such as a misread measurement "M 0.6 TS 0.3" or
    a clock alone: :func:`_no_identifier`); every other line is read by tesseract as
    without the gate, and the learned reader's own reading of it is added to
    ``strips`` (a second reading that identifiers are matched against too). For the
    de-identification's verification: fast, and still fail-closed for names, IDs and dates;
    and the one reading the annotation fields are parsed from.

    OpenCV runs on one thread meanwhile (as :func:`find_text` does): the brightness image,
    each line's cleaning and scaling are small passes on which OpenCV's thread pool costs
    more CPU than it saves (~1 ms a frame on two cores where the caller left OpenCV its
    default threads: a folder run in the calling process, the ``--parts`` benchmark), and
    the callers parallelize by process. The same pixels either way.
    """
    with _one_thread():
        return _read_frame_text(frame, area, vocabulary_gate, fields)


def _read_frame_text(
    frame: np.ndarray, area: Box | None, vocabulary_gate: bool, fields: bool
) -> FrameText:
    """:func:`read_frame_text` (OpenCV on the caller's threads)."""
    reader = engine()
    frame = np.asarray(frame)
    if frame.dtype == np.uint8:
        # one brightness image for finding the lines and reading them (a pixel's depends on
        # that pixel only), in this thread's buffer
        level = brightness(frame, _READING)
        found_lines = _found_lines(frame, area, level)
    else:
        found_lines = _found_lines(frame, area)
        level = _line_level(
            frame, [b for f in found_lines for b in (strips(f.box) if f.strip else [f.box])]
        )
    learned: dict[Box, str] = {}
    sure: set[Box] = set()  # vocabulary lines read with at least ANNOTATION_SURE
    strip_texts: list[str] = []
    # each line cleaned once: for the learned reader and for tesseract
    images: dict[Box, np.ndarray] = {}
    if vocabulary_gate:
        boxes = [f.box for f in found_lines if not f.strip]
        images = {box: clean_line_image(level, box) for box in boxes}
        readings = _learned_readings([images[box] for box in boxes])
        for box, (text, vocabulary, confidence) in zip(
            boxes, readings or [], strict=readings is not None
        ):
            if vocabulary or (not fields and _no_identifier(text, confidence, images[box])):
                learned[box] = text
                if vocabulary and confidence >= ANNOTATION_SURE:
                    sure.add(box)
            else:
                strip_texts.append(text)
    lines: list[TextLine] = []
    for found in found_lines:
        if found.strip:
            for strip in strips(found.box):
                strip_texts.append(
                    reader.read_line(clean_line_image(level, strip, 2 * LINE_HEIGHT))
                )
        elif found.box in learned and (not fields or found.box in sure):
            lines.append(TextLine(found.box, learned[found.box]))
        elif found.box in learned:
            text, other = annotation_text(
                level, found.box, learned[found.box], images.get(found.box)
            )
            lines.append(TextLine(found.box, text))
            strip_texts.append(other)
        else:
            text = read_line(level, found.box, images.get(found.box))
            lines.append(TextLine(found.box, text))
    return FrameText(tuple(lines), tuple(t for t in strip_texts if t.strip()))
