from django.conf import settings


def accounts(request) -> dict:
    """Whether pages show who is signed in (and the way out): only with ACCOUNTS=on."""
    return {"accounts_on": settings.ACCOUNTS}
