"""cadbusi_assets: a Dagster asset platform that turns breast-ultrasound exams into ML datasets.

Domain packages (no Dagster imports): ``identity``, ``storage``, ``dicom``, ``deid``, ``records``,
``pacs``, ``ultrasound``, ``labeling``, ``catalog``, ``exports``, ``demo``.
Dagster wiring lives only in ``cadbusi_assets.defs`` and ``cadbusi_assets.definitions``.
"""

import os

# One OpenMP thread per process unless the user says otherwise. torch loads its own
# ``libgomp.so.1``; tesseract, loaded later, binds to that copy, whose thread limit was read
# from the environment when torch was imported. Without the limit, tesseract's LSTM runs four
# spin-waiting threads per line: 4-5x its CPU time on a loaded host (52 ms instead of 9 ms per
# line with torch imported first). Our workers are one process per core; batches that want
# more threads run on CUDA, or set OMP_THREAD_LIMIT before starting.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

__version__ = "0.1.0"
