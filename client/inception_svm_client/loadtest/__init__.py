"""Load testing a TF Serving model.

config (the plan's one typed home) → runner (closed/open loop over N connections) →
sweep (steps measured in stability windows, gates) with server_metrics (TF Serving's
Prometheus text) → stats → report (table, JSON, CSV) and html_report (plotly page).
"""
