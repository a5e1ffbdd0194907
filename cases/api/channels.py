"""The caller's own notification channels (issue 14): ``/api/v1/me/channels/``.

Each user manages only their own channels (others' are 404). A channel URL is write-only: the answer shows
``url_hint`` (``dingtalk://…a1b2``), never the URL. The account e-mail channel is listed (made on first
use) and can be switched off or limited to some kinds, not deleted. ``POST …/{id}/test/`` sends a test
message at once and answers its result. Group-chat channels of villages and micro-grids are kept by an
administrator (Django admin).
"""
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases.channels import services as channel_services
from cases.choices import NotificationKind
from cases.models import NotificationChannel
from grids.api.base import error_responses


class ChannelSerializer(serializers.ModelSerializer):
    url = serializers.CharField(
        write_only=True, required=False, max_length=2000, trim_whitespace=True,
        help_text="Apprise URL (wecombot://KEY, dingtalk://[SECRET@]TOKEN/, feishu://TOKEN/, an SMS gateway …) "
                  "or the bot's webhook address as the vendor prints it. Write-only; required on create.",
    )
    url_hint = serializers.SerializerMethodField(help_text="What is shown of the address: schema and last 4 characters.")
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=NotificationKind.choices), required=False,
                                  help_text="Notification kinds carried; empty: every kind.")
    is_account_email = serializers.BooleanField(read_only=True)

    class Meta:
        model = NotificationChannel
        fields = ["id", "label", "service", "url", "url_hint", "kinds", "enabled", "is_account_email",
                  "last_tested_at", "last_test_ok", "created_at", "updated_at"]
        read_only_fields = ["service", "last_tested_at", "last_test_ok", "created_at", "updated_at"]

    def get_url_hint(self, channel) -> str:
        return channel_services.display_hint(channel)


class ChannelTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(help_text="Why the channel refused (no secret in it); empty when ok.")
    at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()


class MyChannelViewSet(viewsets.ModelViewSet):
    """The current user's channels: list, create, change, delete, test."""

    queryset = NotificationChannel.objects.none()  # typed path parameter for the schema; see get_queryset
    serializer_class = ChannelSerializer
    pagination_class = None
    filter_backends = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return NotificationChannel.objects.none()
        return NotificationChannel.objects.filter(user=self.request.user).select_related("user").order_by("id")

    def list(self, request, *args, **kwargs):
        channel_services.account_email_channel(request.user)
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={201: ChannelSerializer, **error_responses(400, 401)})
    def create(self, request, *args, **kwargs):
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        if not ser.validated_data.get("url"):
            raise serializers.ValidationError({"url": ["请填写渠道地址。"]})
        channel = channel_services.add_channel(
            user=request.user, url=ser.validated_data["url"], label=ser.validated_data.get("label", ""),
            kinds=ser.validated_data.get("kinds", []), enabled=ser.validated_data.get("enabled", True),
        )
        return Response(self.get_serializer(channel).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ChannelSerializer, **error_responses(400, 401, 404)})
    def partial_update(self, request, *args, **kwargs):
        channel = self.get_object()
        ser = self.get_serializer(channel, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        with transaction.atomic():
            channel = channel_services.update_channel(
                channel, url=data.get("url"), label=data.get("label"), kinds=data.get("kinds"),
                enabled=data.get("enabled"),
            )
        return Response(self.get_serializer(channel).data)

    def update(self, request, *args, **kwargs):
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(responses={204: None, **error_responses(400, 401, 404)})
    def destroy(self, request, *args, **kwargs):
        channel = self.get_object()
        if channel.is_account_email:
            raise serializers.ValidationError({"detail": ["账户邮箱渠道不能删除，可停用或只选部分通知类型。"]})
        channel.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: ChannelTestResultSerializer, **error_responses(401, 404)},
                   summary="Send a test message to this channel now")
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        attempt = channel_services.send_test_message(self.get_object())
        return Response(ChannelTestResultSerializer(
            {"ok": attempt.ok, "error": attempt.error, "at": attempt.at, "duration_ms": attempt.duration_ms}).data)
