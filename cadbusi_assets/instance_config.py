"""The Dagster instance configuration of the embedded default deployment (SQLite in
``$DAGSTER_HOME``). ``cadbusi demo`` writes :data:`DEMO_INSTANCE_YAML` into
``.demo/dagster_home/dagster.yaml``; the repository's top-level ``dagster.yaml`` holds the same
text (a test keeps them identical). Production uses ``deploy/dagster.production.yaml``.
"""

DEMO_INSTANCE_YAML = """\
# Dagster instance of the embedded default deployment: SQLite storage in $DAGSTER_HOME.
# `cadbusi demo` writes this same content into .demo/dagster_home/dagster.yaml (a test keeps the
# two identical). Production uses PostgreSQL: deploy/dagster.production.yaml.
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 2
  pools:
    default_limit: 1
# Dagster's default run launcher, whose Terminate also ends a run whose process is gone (a
# daemon restart took it with its code server): cadbusi_assets.defs.run_process.RunLauncher.
run_launcher:
  module: cadbusi_assets.defs.run_process
  class: RunLauncher
# A run stuck while starting or canceling is failed / canceled after a timeout; a run whose
# process died is marked failed by the dead_run_sensor (the default run launcher cannot tell).
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 60
  max_resume_run_attempts: 0
  poll_interval_seconds: 30
"""
