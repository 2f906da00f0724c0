"""API tokens, and the failed sign-ins that throttle the next ones."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.db import new_id

TOKEN_PREFIX = "fin_"


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256. A token is 32 random bytes, so a plain hash is enough (no salt or
    slow hash is needed against guessing), and it lets a request find its token with one indexed lookup."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for scripts and bots. The token itself is shown once, when made; only its digest is kept."""

    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=60)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the token, so its owner can tell tokens apart (never enough to use one).
    hint = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "api_tokens"
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"


class SignUp(models.Model):
    """A sign-up form sent, counted against the address it came from (SIGNUPS_PER_ADDRESS a day)."""

    address = models.CharField(max_length=45, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "signups"

    def __str__(self) -> str:
        return f"sign-up from {self.address} at {self.at:%Y-%m-%d %H:%M:%S}"


class LoginFailure(models.Model):
    """One failed sign-in, counted against the account name tried and against the address it came from."""

    username = models.CharField(max_length=150, db_index=True)
    address = models.CharField(max_length=45, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "login_failures"

    def __str__(self) -> str:
        return f"{self.username} from {self.address} at {self.at:%Y-%m-%d %H:%M:%S}"
