"""Data-layer conventions shared by every app: text UUID ids and the single local user."""

import uuid

# The product has one user; only the data layer (model defaults, service defaults) knows its id.
DEFAULT_USER = "default"


def new_id() -> str:
    return str(uuid.uuid4())
