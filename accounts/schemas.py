from datetime import datetime

from ninja import Field, Schema


class TokenIn(Schema):
    username: str = Field(..., max_length=150)
    password: str = Field(..., max_length=4096)
    name: str = Field("API token", max_length=60, description="What the token is for, to tell tokens apart.")


class TokenOut(Schema):
    id: str
    token: str = Field(..., description="Send as `Authorization: Bearer <token>`. Shown this once; never stored.")
    name: str


class TokenListedOut(Schema):
    id: str
    name: str
    hint: str = Field(..., description="The token's first characters.")
    created_at: datetime


class LeaderboardRowOut(Schema):
    rank: int
    name: str
    return_percent: float = Field(..., description="Per cent since the book started (its last reset).")
    as_of: datetime
