"""What the bot counts, for `GET /metrics` (Prometheus text format). One registry for the process; every
layer may count (the receiver, the worker, the outbox sender), the HTTP app renders it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES_RECEIVED = Counter("nguoitot_updates_received", "Updates stored in the inbox.", ["channel", "kind"],
                           registry=REGISTRY)
UPDATES_HANDLED = Counter("nguoitot_updates_handled", "Updates handled, by outcome (ok, error, ignored).",
                          ["channel", "kind", "outcome"], registry=REGISTRY)
HANDLING_SECONDS = Histogram("nguoitot_handling_seconds", "From an update's receipt to its replies being sent.",
                             ["channel"], registry=REGISTRY,
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
INBOX_BACKLOG = Gauge("nguoitot_inbox_backlog", "Updates not yet handled or whose replies are not yet sent.",
                      registry=REGISTRY)
INBOX_OLDEST_SECONDS = Gauge("nguoitot_inbox_oldest_seconds", "Age of the longest waiting open update.",
                             registry=REGISTRY)
OUTBOX_BACKLOG = Gauge("nguoitot_outbox_backlog", "Outbox messages due and not yet sent.", registry=REGISTRY)
OUTBOX_OUTCOMES = Counter("nguoitot_outbox_outcomes", "Outbox sending attempts, by outcome.", ["channel", "outcome"],
                          registry=REGISTRY)
CHATS_ASKED = Counter("nguoitot_chats_asked", "Chats a worker asked to serve, by outcome (taken; held: another "
                      "process serves it).", ["outcome"], registry=REGISTRY)
REPLIES_SENT = Counter("nguoitot_replies_sent", "Replies sent to a person's message.", ["channel"],
                       registry=REGISTRY)
RATE_LIMITED = Counter("nguoitot_rate_limited", "Answers of 429 (too many requests) from a channel.",
                       ["channel", "path"], registry=REGISTRY)
EXPORT_DOWNLOADS = Counter("nguoitot_export_downloads", "Export files asked for by download link, by outcome "
                           "(served, refused: forged or expired, gone: swept).", ["outcome"], registry=REGISTRY)
