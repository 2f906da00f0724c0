from django.db import models
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

    class Meta:
        db_table = "chat_messages"
        ordering = ["created_at"]
        indexes = [models.Index(fields=["user_id", "created_at"], name="chat_user_time")]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"
