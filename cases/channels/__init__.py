"""Notification channels (issue 14): notifications reach people through Apprise — WeCom and DingTalk group
bots, Feishu, SMS gateways, e-mail — with digests, retries and a delivery log.

``crypto`` keeps channel URLs encrypted at rest; ``sending`` speaks Apprise; ``policy`` decides when a
message goes out (at once, in a window digest, in the morning digest); ``delivery`` is the one path from
stored notifications to channels (``cases.tasks.deliver_notifications``); ``digest`` writes the digests;
``redaction`` keeps secrets and phone numbers out of every log line; ``services`` adds, changes and tests
channels.
"""
