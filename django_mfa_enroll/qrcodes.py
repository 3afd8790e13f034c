"""QR codes of a Key URI, as PNG or SVG bytes. Pure: text in, image out; no ORM, no request."""

from __future__ import annotations

import io
from typing import Any


def _png_factory() -> Any:
    from qrcode.image.pure import PyPNGImage

    return PyPNGImage


def _svg_factory() -> Any:
    from qrcode.image.svg import SvgPathImage

    return SvgPathImage


#: The formats a QR code comes in: name -> (content type, image factory).
QR_FORMATS = {"png": ("image/png", _png_factory), "svg": ("image/svg+xml", _svg_factory)}


def qr_image(data: str, image_format: str) -> tuple[str, bytes]:
    """Return the content type and bytes of ``data`` as a QR code in ``image_format``."""
    import qrcode

    content_type, factory = QR_FORMATS[image_format]
    buffer = io.BytesIO()
    qrcode.make(data, image_factory=factory(), border=2).save(buffer)
    return content_type, buffer.getvalue()
