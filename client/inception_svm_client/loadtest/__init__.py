"""Load testing a TF Serving model: config, closed/open-loop runner, statistics, reports."""
