from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.db import DEFAULT_USER, new_id


class ChatMessage(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    user_id = models.CharField(max_length=64, default=DEFAULT_USER)
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    # The assistant's trades and watchlist changes with how each one ended (SPEC §7); null when none.
    actions = models.JSONField(null=True, blank=True)
    # Why the assistant could not answer (the provider failed, the reply was unreadable); such a reply is
    # shown to the user but never sent back to the model as history.
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # A user message: the client's own id for it (a retry with the same id gets the first answer, never a second
    # turn), and since when a turn has been answering it (a retry meanwhile is told to wait). NULL, not "", is
    # "none" in these two (DJ001): the unique constraint below skips NULLs, and a change would need a migration.
    client_message_id = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001
    answering_since = models.DateTimeField(null=True, blank=True, editable=False)
    # An assistant message: the id of the user message it answers.
    in_reply_to = models.CharField(max_length=36, null=True, blank=True, editable=False, db_index=True)  # noqa: DJ001

    class Meta:
        db_table = "chat_messages"
        ordering = ["created_at"]
        indexes = [models.Index(fields=["user_id", "created_at"], name="chat_user_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["user_id", "client_message_id"],
                condition=Q(client_message_id__isnull=False),
                name="chat_client_message_id_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"
