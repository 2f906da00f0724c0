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
    """The address a request came from: REMOTE_ADDR, or, when that is a proxy named in TRUSTED_PROXIES, the last
    address the proxy added to X-Forwarded-For (what a client writes there itself comes before it, untrusted)."""
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and _trusted_proxy(remote):
        last = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return remote[:45]


def _trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def _key(username: str) -> str:
    return username.strip().lower()[:150]


def wait_seconds(*, username: str, address: str) -> int:
    """0 when a sign-in for `username` from `address` may be tried now; else the seconds until one may."""
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    now = timezone.now()
    recent = LoginFailure.objects.filter(at__gt=now - window)
    waits = []
    for failures, limit in (
        (recent.filter(username=_key(username)), settings.LOGIN_FAILURES_PER_ACCOUNT),
        (recent.filter(address=address), settings.LOGIN_FAILURES_PER_ADDRESS),
    ):
        # Only the newest `limit` failures matter: the window opens again when the oldest of them leaves it.
        times = list(failures.order_by("-at").values_list("at", flat=True)[:limit])
        if len(times) >= limit:
            waits.append((times[-1] + window - now).total_seconds())
    return max(1, math.ceil(max(waits))) if waits else 0


def record_failure(*, username: str, address: str) -> None:
    now = timezone.now()
    LoginFailure.objects.create(username=_key(username), address=address, at=now)
    # The table holds one window's worth: older rows count for nothing.
    LoginFailure.objects.filter(at__lte=now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)).delete()


def signup_refusal(address: str) -> str | None:
    """Why `address` may not make another account now (SIGNUPS_PER_ADDRESS a day), or None."""
    now = timezone.now()
    SignUp.objects.filter(at__lte=now - SIGNUP_WINDOW).delete()
    if SignUp.objects.filter(address=address).count() >= settings.SIGNUPS_PER_ADDRESS:
        return (f"This address has made {settings.SIGNUPS_PER_ADDRESS} accounts in the last day, the most it may: "
                "ask this deployment's admin for another.")
    return None


def record_signup(address: str) -> None:
    SignUp.objects.create(address=address)


def refusal(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    later = f"{minutes} minute{'s' if minutes != 1 else ''}" if seconds >= 60 else f"{seconds} seconds"
    return f"Too many failed sign-ins for this account or from this address. Try again in {later}."

