"""Checkpoint → TF-Serving SavedModel exporter for TF-Slim's Inception v1.

The network is rebuilt natively in TF2 (``network.py``) so the runtime never depends on
tf-slim; tf-slim is only the reference the tests compare against.
"""
