"""Start tesseract once, in the fork server of ``cadbusi deidentify``.

With OCR on, the command's fork server imports this module after the workers' code
(:func:`cadbusi_assets.cli.deidentify_worker_modules`): tesseract's C API loads its English
model here, once, and every worker forked from the server starts with the engine in memory
(each worker's first file spent ~0.13 s of CPU starting it, 0.8 s of wall time on a loaded
machine). Nothing is read here: the engine's state at the fork is a fresh engine's (no cached
line, no thread started), so every reading is the one a worker's own engine gives.

What every worker otherwise built on its first file, the same whoever builds it, is built here
too (:func:`warm`): the header profile's confidentiality table (a CSV parsed), the letter
folding of the identifier pre-check, the local storage paths' implementation and, where no
thread can come of it, the learned line reader (its weights loaded and folded): 30-55 ms of CPU
that each worker no longer spends on its first file, for ~35 ms once here
(:func:`reader_fork_safe`). Also the text normalisation table and the word lists of the
descriptor scrubber (every Study Description goes through it): ~0.1 s more per worker.
"""

from __future__ import annotations

from cadbusi_assets.ultrasound.ocr import tesseract_available


def reader_fork_safe() -> bool:
    """Whether the learned line reader may be built before the workers are forked: a torch
    built for the CPU alone, neither CUDA nor ROCm (a GPU context does not survive a fork),
    whose OpenMP runtime runs one thread
    (:func:`~cadbusi_assets.ultrasound.ocr.openmp_thread_limit`, what ``cadbusi_assets``
    sets: no thread pool to lose in the fork)."""
    try:
        import torch
    except ImportError:
        return False
    from cadbusi_assets.ultrasound.ocr import openmp_thread_limit

    gpu_build = torch.version.cuda is not None or getattr(torch.version, "hip", None) is not None
    return not gpu_build and openmp_thread_limit() == 1


def warm() -> list[str]:
    """Build what a worker's first file builds that is the same for every file and safe to
    fork (read-only caches); the names of what was built."""
    from cadbusi_assets.deid.name_variants import _fold, normalise_map
    from cadbusi_assets.deid.table import confidentiality_table
    from cadbusi_assets.records import vocabulary

    confidentiality_table()
    _fold()
    normalise_map()
    for words in (
        vocabulary.english_words,
        vocabulary.medical_words,
        vocabulary.name_words,
        vocabulary.place_words,
        vocabulary.core_words,
    ):
        words()  # the descriptor scrubber's word lists (~0.1 s read on a worker's first file)
    built = ["confidentiality table", "letter folding", "text normalisation", "word lists"]
    try:
        import upath.implementations.local  # noqa: F401  (a local zone's path class)

        built.append("local paths")
    except ImportError:  # pragma: no cover - another universal_pathlib layout
        pass
    if reader_fork_safe():
        from cadbusi_assets.ultrasound.glyphs import line_reader

        try:
            line_reader()
            built.append("line reader")
        except (OSError, RuntimeError):  # pragma: no cover - no weights: built (or not) later
            line_reader.cache_clear()
    return built


#: Whether tesseract started (False: not installed; the command stops on that itself).
STARTED = tesseract_available()
#: What :func:`warm` built in this process.
WARMED = warm()
