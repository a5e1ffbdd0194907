"""Photos and files on a case (issue 16 build 4): checked, cleaned, stored, served safely.

- **Storage**: Django's storage API (``STORAGES["default"]``): a local folder (``MEDIA_ROOT``) by default,
  any S3-compatible store (MinIO …) through ``django-storages`` when ``ATTACHMENT_S3_BUCKET`` is set
  (settings). Files are named by their SHA-256, never by the uploader's name.
- **Types by content**, not by name or the client's claim: photos JPEG, PNG or WebP (opened by Pillow,
  at most :data:`MAX_PIXELS` pixels against decompression bombs), PDF (``%PDF-``), Office files (ZIP
  container named .docx/.xlsx/.pptx) and UTF-8 text named .txt/.csv. Everything else — HTML, SVG,
  scripts, executables — is refused. Size at most ``ATTACHMENT_MAX_BYTES`` (10 MiB).
- **Photos are re-encoded** with every metadata block dropped (EXIF including GPS, XMP, comments), after
  turning them upright by their EXIF orientation; a thumbnail (``ATTACHMENT_THUMBNAIL_PX``, JPEG) is made.
  The GPS position is read before it is dropped and kept — as the case's place — only when the uploader
  agrees (``use_location``); otherwise it is discarded.
- **Serving** (:func:`serve`): ``X-Content-Type-Options: nosniff``, a sandboxing
  ``Content-Security-Policy``, and ``Content-Disposition: attachment`` for everything but the three photo
  types — so nothing uploaded is ever rendered as a page. Scope is the case's (the views' queryset).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from . import services
from .choices import Action, AttachmentKind, Status
from .models import Attachment, Case

#: Largest photo accepted, in pixels (width × height): about a 40-megapixel camera.
MAX_PIXELS = 40_000_000
#: Photo formats accepted (Pillow's names) → (content type, extension).
IMAGE_TYPES = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
#: Other files accepted: extension → content type (checked against the content, see :func:`sniff`).
FILE_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
#: Served inline (shown in the page); every other type is a download.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
_MARKUP = (b"<html", b"<svg", b"<script", b"<!doctype", b"<?xml", b"<body", b"<iframe")


def max_bytes() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sniff(data: bytes, name: str) -> tuple[str, str, bool]:
    """``(content_type, extension, is_image)`` of an upload from its content (and, for non-photo files,
    its name's extension, which must agree). Raises ValidationError on ``file`` for anything not allowed."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt in IMAGE_TYPES:
                probe.verify()
                content_type, ext = IMAGE_TYPES[fmt]
                return content_type, ext, True
    except Image.DecompressionBombError:
        raise ValidationError({"file": _("图片像素过多。")}) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        pass
    ext = _extension(name)
    head = data[:1024].lower().lstrip()
    if ext == "pdf" and data.startswith(b"%PDF-"):
        return FILE_TYPES["pdf"], "pdf", False
    if ext in ("docx", "xlsx", "pptx") and data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as book:
                if "[Content_Types].xml" in book.namelist():
                    return FILE_TYPES[ext], ext, False
        except zipfile.BadZipFile:
            pass
    if ext in ("txt", "csv") and not any(marker in head for marker in _MARKUP):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return FILE_TYPES[ext], ext, False
    raise ValidationError({"file": _("不支持的文件类型：只接受 JPEG/PNG/WebP 照片、PDF、Word/Excel/PowerPoint 文件和 UTF-8 文本。")})


def _degrees(values, ref) -> Decimal | None:
    try:
        d, m, s = (Fraction(v.numerator, v.denominator) if hasattr(v, "numerator") else Fraction(v) for v in values)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if ref in ("S", "W", b"S", b"W"):
        value = -value
    return Decimal(float(value)).quantize(Decimal("0.000001"))


def gps_of(image) -> tuple[Decimal, Decimal] | None:
    """``(lng, lat)`` in degrees from a Pillow image's EXIF GPS block (as the camera wrote it, taken to be
    WGS-84), or None when there is none or it cannot be read."""
    try:
        gps = image.getexif().get_ifd(0x8825)
    except Exception:  # noqa: BLE001 - broken EXIF is common and never fatal
        return None
    if not gps or 2 not in gps or 4 not in gps:
        return None
    lat, lng = _degrees(gps[2], gps.get(1)), _degrees(gps[4], gps.get(3))
    if lat is None or lng is None or abs(lat) > 90 or abs(lng) > 180:
        return None
    return lng, lat


def clean_image(data: bytes, content_type: str) -> tuple[bytes, bytes, int, int, tuple | None]:
    """Re-encode a photo without metadata: ``(shown, thumbnail_jpeg, width, height, gps)``. The photo is
    turned upright by its EXIF orientation first; ``gps`` is ``(lng, lat)`` or None (see :func:`gps_of`)."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as original:
        gps = gps_of(original)
        upright = ImageOps.exif_transpose(original)
        upright.load()
    upright.info = {}  # no EXIF, XMP, ICC or comments are carried into what is saved
    fmt = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}[content_type]
    shown = io.BytesIO()
    if fmt == "JPEG":
        upright = upright.convert("RGB")
        upright.save(shown, format="JPEG", quality=88, optimize=True)
    else:
        upright.save(shown, format=fmt)
    thumb = upright.convert("RGB")
    px = int(getattr(settings, "ATTACHMENT_THUMBNAIL_PX", 320))
    thumb.thumbnail((px, px))
    small = io.BytesIO()
    thumb.save(small, format="JPEG", quality=80)
    return shown.getvalue(), small.getvalue(), upright.width, upright.height, gps


def store_upload(upload, *, kind: str, actor, case: Case | None = None,
                 now: dt.datetime | None = None) -> tuple[Attachment, tuple | None]:
    """Check, clean and store ``upload`` (a Django UploadedFile or File with ``name``) as an Attachment of
    ``case`` (or of no case, for an upper app to link). Returns ``(attachment, gps)``; ``gps`` is the
    photo's ``(lng, lat)`` for the caller to use only if the user agreed. Raises ValidationError on
    ``file`` (too large, type not allowed, unreadable) or ``kind``."""
    now = now or timezone.now()
    if kind not in AttachmentKind.values:
        raise ValidationError({"kind": _("附件类别无效。")})
    size = getattr(upload, "size", None)
    limit = max_bytes()
    if size is not None and size > limit:
        raise ValidationError({"file": _("文件过大（上限 %(mb)s MB）。") % {"mb": limit // (1024 * 1024)}})
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError({"file": _("文件过大（上限 %(mb)s MB）。") % {"mb": limit // (1024 * 1024)}})
    if not data:
        raise ValidationError({"file": _("文件为空。")})
    name = (getattr(upload, "name", "") or "upload").replace("\\", "/").rsplit("/", 1)[-1][:200]
    content_type, ext, is_image = sniff(data, name)
    if kind in (AttachmentKind.BEFORE, AttachmentKind.AFTER) and not is_image:
        raise ValidationError({"kind": _("处理前/后照片须为图片。")})
    width = height = None
    thumb = b""
    gps = None
    if is_image:
        data, thumb, width, height, gps = clean_image(data, content_type)
    digest = hashlib.sha256(data).hexdigest()
    att = Attachment(case=case, kind=kind, original_name=name, extension=ext, content_type=content_type,
                     size=len(data), sha256=digest, width=width, height=height, uploaded_by=actor, uploaded_at=now)
    att.file.save(f"{digest}.{ext}", ContentFile(data), save=False)
    if thumb:
        att.thumbnail.save(f"{digest}.thumb.jpg", ContentFile(thumb), save=False)
    att.save()
    return att, gps


def attach_to_case(case: Case, upload, *, kind: str, actor, use_location: bool = False,
                   now: dt.datetime | None = None) -> Attachment:
    """Store ``upload`` on ``case`` (see :func:`store_upload`) with one ``attachment_added`` event; with
    ``use_location`` and a photo carrying GPS, the case's place (``lng``/``lat``) becomes that position,
    its old and new values in the same event. Any state (a photo after closing is still evidence).
    Returns the Attachment."""
    now = now or timezone.now()
    with transaction.atomic():
        att, gps = store_upload(upload, kind=kind, actor=actor, case=case, now=now)

        def change(locked):
            data = {"attachment_id": att.pk, "kind": kind, "name": att.original_name}
            if use_location and gps is not None:
                data["location"] = {"old": [str(locked.lng) if locked.lng is not None else None,
                                            str(locked.lat) if locked.lat is not None else None],
                                    "new": [str(gps[0]), str(gps[1])]}
                locked.lng, locked.lat = gps
            return data

        services._transition(case, allowed_from=tuple(Status), action=Action.ATTACHMENT_ADDED, actor=actor,
                             now=now, change=change)
    return att


def serve(att: Attachment, *, field: str = "file") -> FileResponse:
    """The stored ``file`` or ``thumbnail`` of ``att`` as a response that no browser renders as a page
    (see the module docstring). Raises Http404 when that file is missing."""
    stored = getattr(att, field)
    if not stored:
        raise Http404
    content_type = "image/jpeg" if field == "thumbnail" else att.content_type
    inline = content_type in INLINE_TYPES
    try:
        handle = stored.storage.open(stored.name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    name = att.original_name if field == "file" else f"{att.original_name.rsplit('.', 1)[0]}-thumb.jpg"
    response = FileResponse(handle, content_type=content_type, as_attachment=not inline, filename=name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
