"""Thin client for an Inception v1 featurizer served by TensorFlow Serving.

Importing this package must never import TensorFlow: production systems embed it.
"""

__version__ = "0.1.0"
