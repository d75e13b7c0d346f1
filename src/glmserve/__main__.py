import sys

from glmserve.cli import main

sys.exit(main())
