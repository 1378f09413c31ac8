import os
import sys

# Before TensorFlow is imported (serve_command imports it): TF's C++ INFO/WARNING lines off
# unless the user set a level, as `inception-svm serve` and `make serve` do.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from inception_svm_serving.serve_command import main

sys.exit(main())
