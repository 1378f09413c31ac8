"""Observability leaves that every layer may use: TF Serving's metrics and JSON log lines."""
