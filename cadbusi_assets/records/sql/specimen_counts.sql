-- Per specimen_date in [@start_date, @end_date]: the number of distinct pathology specimens
-- (what the late-arrival schedule compares: a specimen signed out after its date was processed
-- changes no study count). Days without one are absent. BigQuery dialect.
SELECT
  specimen_date,
  COUNT(DISTINCT TRIM(specimen_accession)) AS n_specimens
FROM pathology_specimens
WHERE specimen_date BETWEEN @start_date AND @end_date
  AND specimen_accession IS NOT NULL
  AND TRIM(specimen_accession) != ''
GROUP BY specimen_date
ORDER BY specimen_date
