-- The run's snapshot passed its data quality checks: it counts as a success.
UPDATE core.run_metrics SET outcome = 'success', failed_task = NULL, error = NULL
WHERE dag_id = %(dag_id)s AND run_id = %(run_id)s AND batch_id IS NOT NULL;
