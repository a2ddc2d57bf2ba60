"""``python -m gan_pipelines``: the same command line as ``gan-pipelines`` (see
:mod:`gan_pipelines.cli`). It prints help when bare and never trains: training is
``kedro run --pipelines <family>``."""

from gan_pipelines.cli import main

if __name__ == "__main__":
    main()
