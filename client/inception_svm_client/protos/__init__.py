"""Minimal wire-compatible TF Serving ``.proto`` files and their compiled descriptor set.

Kept import-free so ``python -m inception_svm_client.protos.build`` can run before
``descriptors.binpb`` exists; the message classes live in ``messages``.
"""
