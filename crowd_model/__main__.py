import sys

from crowd_model.cli import main

sys.exit(main())
