"""Data that gansearch trains and judges generators on; nothing here downloads unless asked."""

from gansearch.data.config import DataConfig, load_data
from gansearch.data.images import BUNDLED_IMAGES, load_image
from gansearch.data.sets import digits, edges2photos, faces, folder, take_fraction, torchvision_set

__all__ = [
    "BUNDLED_IMAGES",
    "DataConfig",
    "digits",
    "edges2photos",
    "faces",
    "folder",
    "load_data",
    "load_image",
    "take_fraction",
    "torchvision_set",
]
