"""The protocol-free core: data plane (validation, admission, Predict on numpy arrays), model
versions, batching, the TensorFlow runtime, memory trimming and image-header parsing.
"""
