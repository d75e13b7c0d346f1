"""The image and video generation room (docs/images.md): wire checks against the
catalog (checks.py), the served models and their engines (models.py), billing per unit
(work.py), result files and their URLs (results.py), and the service that routes each
call (service.py)."""

from glmserve.serving.images.models import MediaModels, ServedMedia, load_media
from glmserve.serving.images.results import MediaResults
from glmserve.serving.images.service import IMAGES_KIND, TASK_MARK, ImageService

__all__ = [
    "IMAGES_KIND",
    "ImageService",
    "MediaModels",
    "MediaResults",
    "ServedMedia",
    "TASK_MARK",
    "load_media",
]
