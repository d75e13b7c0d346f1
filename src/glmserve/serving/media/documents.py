"""PDF pages for vision models: each page rendered to an image with pypdfium2, at
``[media] document_dpi``, at most ``max_document_pages`` pages. A page's pixel size is
checked against ``max_image_pixels`` (and all pages' against ``max_total_pixels``)
before it is rendered (docs/limits.md, "Media")."""

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
        scale = settings.document_dpi / 72
        total = 0
        for index in range(pages):
            page = document[index]
            # the page's size in pixels is known before it is rendered: checked first
            width, height = (round(side * scale) for side in page.get_size())
            if width * height > settings.max_image_pixels:
                page.close()
                raise ValueError(
                    f"page {index + 1} would render to {width}x{height} pixels, more than "
                    f"{settings.max_image_pixels}"
                )
            total += width * height
            if total > settings.max_total_pixels:
                page.close()
                raise ValueError(
                    f"its pages would render to more than {settings.max_total_pixels} pixels"
                )
            bitmap = page.render(scale=scale)
            image = bitmap.to_pil().convert("RGB")
            images.append(ImageInput(image.width, image.height, image.tobytes()))
            page.close()
        return images
    finally:
        document.close()
