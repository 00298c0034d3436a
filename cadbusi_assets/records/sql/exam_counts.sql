-- Per exam_date in [@start_date, @end_date]: the number of distinct ultrasound accessions that
-- carry a PACS reference (what the late-arrival schedule compares). Days without one are absent.
-- BigQuery dialect.
SELECT
  exam_date,
  COUNT(DISTINCT accession_number) AS n_us_studies
FROM radiology_exams
WHERE exam_date BETWEEN @start_date AND @end_date
  AND UPPER(modality) = 'US'
  AND study_instance_uid IS NOT NULL
  AND TRIM(study_instance_uid) != ''
GROUP BY exam_date
ORDER BY exam_date
