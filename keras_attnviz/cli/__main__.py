import sys

from keras_attnviz.cli.main import main

sys.exit(main())
