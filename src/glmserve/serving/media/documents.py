"""PDF pages for vision models: each page rendered to an image with pypdfium2, at
``[media] document_dpi``, at most ``max_document_pages`` pages."""

from __future__ import annotations

import pypdfium2 as pdfium

from glmserve.config.media import MediaSettings
from glmserve.engine.media import ImageInput

__all__ = ["decode_pdf"]


def decode_pdf(data: bytes, settings: MediaSettings) -> list[ImageInput]:
    """The pages as RGB images. Raises ValueError for a file that is not a PDF, or
    one with more pages than allowed."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise ValueError("it is not a PDF that can be read") from None
    try:
        pages = len(document)
        if pages > settings.max_document_pages:
            raise ValueError(f"it has {pages} pages, more than {settings.max_document_pages}")
        images = []
        for index in range(pages):
            page = document[index]
            bitmap = page.render(scale=settings.document_dpi / 72)
            image = bitmap.to_pil().convert("RGB")
            images.append(ImageInput(image.width, image.height, image.tobytes()))
            page.close()
        return images
    finally:
        document.close()
