"""gan_pipelines: GAN image-to-image models as reproducible Kedro pipelines."""

import os

# albumentations asks PyPI for a newer release at import time; we never touch the network at run time.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
