-- Breast pathology rows (one per specimen and diagnosis name) with specimen_date in
-- [@start_date, @end_date] (both inclusive). BigQuery dialect.
SELECT
  specimen_accession,
  patient_id,
  encounter_id,
  specimen_date,
  received_at,
  part_description,
  diagnosis_name,
  final_diagnosis_text,
  synoptic_report
FROM pathology_specimens
WHERE specimen_date BETWEEN @start_date AND @end_date
ORDER BY specimen_date, specimen_accession, diagnosis_name
