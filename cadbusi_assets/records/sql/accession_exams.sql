-- The breast radiology exams whose accession_number is in @accession_numbers (ARRAY<STRING>),
-- whatever their date: which patient's exam holds a reused accession number is decided from
-- these rows (the earliest exam keeps it; see records/cohort.py). Same columns as
-- radiology_exams. BigQuery dialect.
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
WHERE accession_number IN UNNEST(@accession_numbers)
ORDER BY exam_date, accession_number, patient_id, modality
