-- The patients whose patient_id is in @patient_ids (ARRAY<STRING>). BigQuery dialect.
SELECT
  patient_id,
  patient_name,
  birth_date,
  sex
FROM patients
WHERE patient_id IN UNNEST(@patient_ids)
ORDER BY patient_id
