"""Alerts: run-failure and blocking-check-failure notifications (e-mail, webhook), and the
freshness policy of the nightly study-date assets."""
