-- The breast radiology exams of the patients in @patient_ids (ARRAY<STRING>) with exam_date in
-- [@start_date, @end_date] (both inclusive): the span the history columns of a run's exams
-- read (see HistoryWindows). Same columns as radiology_exams. BigQuery dialect.
SELECT
  accession_number,
  patient_id,
  encounter_id,
  exam_date,
  exam_datetime,
  modality,
  exam_description,
  laterality,
  report_text,
  report_status,
  study_instance_uid,
  site,
  radiologist
FROM radiology_exams
WHERE exam_date BETWEEN @start_date AND @end_date
  AND patient_id IN UNNEST(@patient_ids)
ORDER BY exam_date, accession_number, modality
