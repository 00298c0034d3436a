"""cadbusi_assets: a Dagster asset platform that turns breast-ultrasound exams into ML datasets.

Domain packages (no Dagster imports): ``identity``, ``storage``, ``dicom``, ``deid``, ``records``,
``pacs``, ``ultrasound``, ``labeling``, ``catalog``, ``exports``, ``demo``.
Dagster wiring lives only in ``cadbusi_assets.defs`` and ``cadbusi_assets.definitions``.
"""

__version__ = "0.1.0"
