"""Start tesseract once, in the fork server of ``cadbusi deidentify``.

With OCR on, the command's fork server imports this module after the workers' code
(:func:`cadbusi_assets.cli.deidentify_worker_modules`): tesseract's C API loads its English
model here, once, and every worker forked from the server starts with the engine in memory
(each worker's first file spent ~0.13 s of CPU starting it, 0.8 s of wall time on a loaded
machine). Nothing is read here: the engine's state at the fork is a fresh engine's (no cached
line, no thread started), so every reading is the one a worker's own engine gives.

The learned line reader (torch) is not loaded here: building it starts torch's threads, and a
process forked after that may not run torch safely.
"""

from __future__ import annotations

from cadbusi_assets.ultrasound.ocr import tesseract_available

#: Whether tesseract started (False: not installed; the command stops on that itself).
STARTED = tesseract_available()
