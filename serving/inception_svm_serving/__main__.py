import sys

from inception_svm_serving.serve_command import main

sys.exit(main())
