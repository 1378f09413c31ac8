"""TF Serving's gRPC API: PredictionService/ModelService servicers, health, TensorProto output."""
