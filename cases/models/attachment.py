"""Photos and files on a case (issue 16 build 4); stored through Django's storage API."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..choices import AttachmentKind


def attachment_path(instance, filename: str) -> str:
    """Storage name of an upload: ``attachments/<yyyy>/<mm>/<sha256>.<ext>`` — never the uploader's file name
    (which is kept in ``original_name`` for the download)."""
    return f"attachments/{instance.uploaded_at:%Y/%m}/{instance.sha256}.{instance.extension}"


def thumbnail_path(instance, filename: str) -> str:
    return f"attachments/{instance.uploaded_at:%Y/%m}/{instance.sha256}.thumb.jpg"


class Attachment(models.Model):
    """A before/after photo or a file on a case (``case``), or on another owner that an upper app links
    (``case`` empty; e.g. a visit in ``reps``). ``file`` is what is shown: for photos a re-encoded copy with
    every EXIF field (GPS included) removed; ``thumbnail`` a small JPEG of it. ``content_type`` is the type
    found in the content, never the one the client claimed. Created only by :mod:`cases.attachments`.
    """

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="attachments", verbose_name=_("诉求"))
    kind = models.CharField(_("类别"), max_length=16, choices=AttachmentKind.choices)
    file = models.FileField(_("文件"), upload_to=attachment_path, max_length=200)
    thumbnail = models.FileField(_("缩略图"), upload_to=thumbnail_path, max_length=200, blank=True)
    original_name = models.CharField(_("原文件名"), max_length=200)
    extension = models.CharField(_("扩展名"), max_length=8)
    content_type = models.CharField(_("类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    width = models.PositiveIntegerField(_("宽"), null=True, blank=True)
    height = models.PositiveIntegerField(_("高"), null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("上传人"))
    uploaded_at = models.DateTimeField(_("上传时间"))

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
        ordering = ["uploaded_at", "id"]
        indexes = [models.Index(fields=["case", "uploaded_at"], name="attachment_case")]

    def __str__(self):
        return self.original_name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
