"""JSON API of the assistant: one chat turn, and the conversation so far (SPEC §6-7)."""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpResponse
from ninja import Router

from assistant import selectors, services
from assistant.schemas import ChatIn, ChatMessageOut, ChatReplyOut
from core.api_errors import ErrorOut
from core.fastpath import database_version, json_body, reads

router = Router(tags=["assistant"])


@router.post(
    "",
    response={200: ChatReplyOut, 400: ErrorOut, 409: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut,
              429: ErrorOut},
    summary="Send a message; the assistant answers and executes the trades and watchlist changes it asked for",
)
async def chat(request, payload: ChatIn, response: HttpResponse):
    turn = await services.chat(
        user_id=request.book, message=payload.message, client_message_id=payload.client_message_id
    )
    if turn.replayed:
        response["Idempotent-Replayed"] = "true"
    return asdict(turn)


@router.get("/history", response=list[ChatMessageOut], summary="The last 20 messages, oldest first")
async def history(request):
    book = request.book

    def make():
        return json_body(list[ChatMessageOut], selectors.recent_messages(user_id=book)), None

    return await reads.answer(("chat-history", book), (database_version(),), make)
