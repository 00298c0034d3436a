-- Breast radiology exams with exam_date in [@start_date, @end_date] (both inclusive).
-- BigQuery dialect; run on DuckDB and PostgreSQL through sqlglot.
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
ORDER BY exam_date, accession_number, modality
