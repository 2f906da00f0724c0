"""Writes of the assistant app."""

from assistant.models import ChatMessage


def clear_chat_on_reset(sender, *, user_id: str, **kwargs) -> None:
    """A portfolio reset starts the conversation over too."""
    ChatMessage.objects.filter(user_id=user_id).delete()
