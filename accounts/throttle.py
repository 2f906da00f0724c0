"""Failed sign-ins, counted per account name and per address over a sliding window (LOGIN_FAILURE_* settings).

Kept in the database, not a process's memory: every web process counts the same failures, on SQLite and on
PostgreSQL alike. An account name that does not exist is counted and refused exactly like one that does, so the
throttle tells an attacker nothing about which names are real.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import LoginFailure, SignUp

SIGNUP_WINDOW = timedelta(days=1)


def client_address(request) -> str:
    """Who to count a sign-in against: REMOTE_ADDR, or, when that is a proxy named in TRUSTED_PROXIES, the last
    address the proxy added to X-Forwarded-For (what a client writes there itself comes before it, untrusted). An
    IPv6 address counts as its /64: one client commonly holds all 2^64 of them."""
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and _trusted_proxy(remote) and _ip(forwarded.split(",")[-1].strip()) is not None:
        remote = forwarded.split(",")[-1].strip()
    ip = _ip(remote)
    if ip is None:
        return remote[:45]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def _key(username: str) -> str:
    return username.strip().lower()[:150]


class Attempt:
    """One sign-in attempt, counted BEFORE its password is checked, so that attempts sent together cannot all pass
    a count none of them is in yet. It stays counted as a failure unless `succeeded()` says otherwise."""

    def __init__(self, *, username: str, address: str) -> None:
        self.row = LoginFailure.objects.create(username=_key(username), address=address)

    def wait_seconds(self) -> int:
        """0 when this attempt may check its password; else the seconds until one from here may. Refused when:

        - this address made LOGIN_FAILURES_PER_ADDRESS failures within the window (any names), or
        - the account name had LOGIN_FAILURES_PER_ACCOUNT failures within the window (from anywhere), and this
          address is one of those that failed for it. An address that never failed for it is not refused: a
          guesser cannot lock the account's owner out from another address, and each new address a guesser brings
          gets one try before it is refused too.
        """
        row = self.row
        window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
        now = timezone.now()
        recent = LoginFailure.objects.filter(at__gt=now - window)
        waits = []
        by_address = recent.filter(address=row.address)
        by_name = recent.filter(username=row.username)
        for failures, limit in (
            (by_address, settings.LOGIN_FAILURES_PER_ADDRESS),
            (by_name if by_name.filter(address=row.address).exclude(pk=row.pk).exists() else None,
             settings.LOGIN_FAILURES_PER_ACCOUNT),
        ):
            if failures is None:
                continue
            # Counted with this attempt; the window opens again when the oldest of the newest `limit` leaves it.
            times = list(failures.order_by("-at").values_list("at", flat=True)[: limit + 1])
            if len(times) > limit:
                waits.append((times[-1] + window - now).total_seconds())
        return max(1, math.ceil(max(waits))) if waits else 0

    def succeeded(self) -> None:
        self.row.delete()
        # The table holds one window's worth: older rows count for nothing.
        LoginFailure.objects.filter(
            at__lte=timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
        ).delete()


def signup_refusal(address: str) -> str | None:
    """Count one sign-up form sent from `address`; why it may not be read (SIGNUPS_PER_ADDRESS a day), or None."""
    now = timezone.now()
    SignUp.objects.filter(at__lte=now - SIGNUP_WINDOW).delete()
    SignUp.objects.create(address=address, at=now)
    if SignUp.objects.filter(address=address).count() > settings.SIGNUPS_PER_ADDRESS:
        return (f"This address has sent {settings.SIGNUPS_PER_ADDRESS} sign-up forms in the last day, the most it "
                "may: try again tomorrow, or ask this deployment's admin for an account.")
    return None


def refusal(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    later = f"{minutes} minute{'s' if minutes != 1 else ''}" if seconds >= 60 else f"{seconds} seconds"
    return f"Too many failed sign-ins for this account or from this address. Try again in {later}."

