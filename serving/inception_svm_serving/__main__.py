import sys

from inception_svm_serving.cli import main

sys.exit(main())
