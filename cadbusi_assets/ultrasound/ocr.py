"""Burned-in annotation OCR with the Debian ``tesseract-ocr`` engine (no model downloads).

1. :func:`find_text_lines` finds text lines by image evidence: thin bright (or coloured)
   strokes from a white top-hat, smeared along the line, kept when the box has the height,
   aspect and ink density of text. Inside the field of view only near-white strokes count,
   so speckle does not become text. Calipers (square glyphs) and dotted lines are too square
   or too flat to pass.
2. :class:`Tesseract` reads each line crop (inverted to dark-on-light, scaled to a ~40 px line
   height) in-process through ``libtesseract``'s C API (ctypes; ~5-15 ms a line with
   ``OMP_THREAD_LIMIT=1``), or through the ``tesseract`` command (pytesseract) when the library
   cannot be loaded. Results are cached per line image, so UI text repeated on every frame of
   a device (menus, scales, the annotation of a cine) is read once per process.

>>> import numpy as np, cv2
>>> grey = np.zeros((80, 300), np.uint8)
>>> _ = cv2.putText(grey, "LT BREAST", (10, 50), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
>>> [(x0 <= 12, y0 <= 36, x1 >= 140) for x0, y0, x1, y1 in find_text_lines(grey)]
[(True, True, True)]
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Sequence

import cv2
import numpy as np

from cadbusi_assets.ultrasound.overlay import ColourMaps

Box = tuple[int, int, int, int]

MIN_LINE_HEIGHT = 8
MAX_LINE_HEIGHT = 48
#: Text strokes are at least this much brighter than the opened (stroke-free) image.
STROKE_CONTRAST = 60
#: Inside the field of view only near-white (or coloured) strokes count as text.
FOV_TEXT_LEVEL = 200
#: Line images are scaled to this height for tesseract; misread-looking lines are read again
#: at the other heights (small glyphs such as ':' and '.' come out at some scales only).
TARGET_LINE_HEIGHT = 26
RETRY_LINE_HEIGHTS = (32, 40)
#: Fields of a line are separated by dark gaps at least this many line heights wide.
WORD_GAP = 0.55
CACHE_SIZE = 4096


def text_pixels(
    frame: np.ndarray,
    grey: np.ndarray,
    fov_mask: np.ndarray | None = None,
    maps: ColourMaps | None = None,
) -> np.ndarray:
    """uint8 0/1 mask of thin bright or coloured strokes (text candidates)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (11, 11))
    tophat = cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, kernel)
    strokes = (tophat >= STROKE_CONTRAST) & (grey >= 100)
    if frame.ndim == 3:
        maps = ColourMaps.of(frame) if maps is None else maps
        strokes |= (maps.chroma >= 60) & (maps.high >= 150) & (tophat >= 30)
    if fov_mask is not None:
        strokes &= ~fov_mask | (grey >= FOV_TEXT_LEVEL)
    return strokes.astype(np.uint8)


def find_text_lines(
    frame: np.ndarray,
    fov_mask: np.ndarray | None = None,
    *,
    area: Box | None = None,
    grey: np.ndarray | None = None,
    maps: ColourMaps | None = None,
) -> list[Box]:
    """Boxes (inclusive, full-frame) of text lines, top to bottom, left to right."""
    grey = (
        (frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
        if grey is None
        else grey
    )
    ox, oy = 0, 0
    if area is not None:
        ox, oy = area[0], area[1]
        sl = (slice(area[1], area[3] + 1), slice(area[0], area[2] + 1))
        frame, grey = frame[sl], grey[sl]
        fov_mask = None if fov_mask is None else fov_mask[sl]
        maps = None if maps is None else maps.crop(area[1], area[3] + 1, area[0], area[2] + 1)
    ink = text_pixels(frame, grey, fov_mask, maps)
    smeared = cv2.morphologyEx(
        ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (13, 3))
    )
    contours, _ = cv2.findContours(smeared, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes: list[Box] = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if not (MIN_LINE_HEIGHT <= h <= MAX_LINE_HEIGHT and w >= 12 and w >= 1.1 * h):
            continue
        fill = cv2.countNonZero(ink[y : y + h, x : x + w]) / float(w * h)
        if not 0.08 <= fill <= 0.7:
            continue
        boxes.append((x + ox, y + oy, x + w - 1 + ox, y + h - 1 + oy))
    return sorted(merge_words(boxes), key=lambda b: (b[1] // 8, b[0]))


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


class _CApi:
    """Minimal ctypes binding of tesseract's C API (capi.h)."""

    PSM_SINGLE_LINE = 7

    def __init__(self) -> None:
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # OpenMP spin-waits cost 10x on 2 cores
        lib = ctypes.CDLL("libtesseract.so.5")
        lib.TessBaseAPICreate.restype = ctypes.c_void_p
        lib.TessBaseAPIInit3.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
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
        if lib.TessBaseAPIInit3(self.api, None, b"eng") != 0:
            lib.TessBaseAPIDelete(self.api)
            raise OSError("tesseract could not load the 'eng' language data")
        lib.TessBaseAPISetPageSegMode(self.api, self.PSM_SINGLE_LINE)

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

        return pytesseract.image_to_string(image, lang="eng", config="--psm 7")

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
    ink = (grey[y0 : y1 + 1, x0 : x1 + 1] >= 100).any(axis=0)
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
