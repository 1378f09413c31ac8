"""``python -m inception_svm_client``: the same CLI as ``inception-svm``, for environments
where the console script is not on PATH (a bare venv, ``pipx run``, a container)."""

import sys

from inception_svm_client.cli import main

sys.exit(main())
