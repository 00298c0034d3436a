"""Time windows of pathology linking and diagnosis labels (cadbusi.md §2.4 defaults), and of
the cross-exam history columns of the parsed radiology reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class LabelWindows:
    """All windows in days, relative to the ultrasound exam date unless said otherwise."""

    #: a biopsy from ``biopsy_before_days`` before to ``biopsy_after_days`` after the exam
    #: rules out a benign follow-up label (BENIGN1/BENIGN3)
    biopsy_before_days: int = 30
    biopsy_after_days: int = 120
    #: BENIGN1: no BI-RADS other than 1/2 on that side in the next ``benign_stable_days``
    benign_stable_days: int = 730
    #: BENIGN1/BENIGN3: no malignant pathology on that side in the next ``no_malignancy_days``
    no_malignancy_days: int = 450
    #: BENIGN1/BENIGN3: a later exam on that side at least ``min_followup_days`` out
    min_followup_days: int = 180
    #: BENIGN3: every follow-up BI-RADS within ``benign3_window_days`` is 1/2, or all are 1/2/3
    #: with one exam at least ``benign3_long_followup_days`` out
    benign3_window_days: int = 1095
    benign3_long_followup_days: int = 730
    #: BENIGN2/MALIGNANT2: pathology on that side within ``future_pathology_days`` after the exam
    future_pathology_days: int = 240
    #: linking: a pathology specimen from ``pathology_before_biopsy_days`` before to
    #: ``pathology_after_biopsy_days`` after a biopsy exam belongs to that biopsy
    pathology_before_biopsy_days: int = 1
    pathology_after_biopsy_days: int = 180
    #: linking: the ultrasound exam of the same breast at most ``link_lookback_days`` before
    #: the biopsy (or the specimen, without a biopsy exam)
    link_lookback_days: int = 120

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"LabelWindows.{name} must be a non-negative number of days")


@dataclass(frozen=True)
class HistoryWindows:
    """How far the cross-exam columns of ``radiology_reports`` look, in days from each exam.

    Every history column is a function of the patient's exams inside
    ``[exam_date - lookback_days, exam_date + forward_days]`` only, and the records stage
    reads exactly that span from the warehouse (for the patients of the run), so a study date
    gives the same rows whether it runs alone, inside a backfill or nightly.

    - ``lookback_days`` (3 years): prior biopsies per side, the worst prior mammogram, and
      ``days_to_biopsy`` when no biopsy follows (minus the days since the latest one);
    - ``forward_days`` (1 year): ``days_to_biopsy`` to the next biopsy;
    - ``guidance_before_days`` / ``guidance_after_days`` (30 / 120): the biopsy whose
      guidance a non-biopsy exam inherits (must lie inside the two spans above).
    """

    lookback_days: int = 1095
    forward_days: int = 365
    guidance_before_days: int = 30
    guidance_after_days: int = 120

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"HistoryWindows.{name} must be a non-negative number of days")
        if self.guidance_before_days > self.lookback_days:
            raise ValueError("HistoryWindows.guidance_before_days exceeds lookback_days")
        if self.guidance_after_days > self.forward_days:
            raise ValueError("HistoryWindows.guidance_after_days exceeds forward_days")

    def context(self, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
        """The exam dates whose exams the history of exams dated ``start``…``end`` reads."""
        return (
            start - dt.timedelta(days=self.lookback_days),
            end + dt.timedelta(days=self.forward_days),
        )
