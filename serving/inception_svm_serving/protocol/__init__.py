"""The wire protocols: gRPC (``grpc/``) and REST (``rest/``) over one data plane, and what both
edges share (``_outcome``: request metrics once per request; ``_model_service``: status and
metadata responses). Nothing below this package sees a protobuf request, JSON or HTTP.
"""
