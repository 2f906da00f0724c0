"""JSON API of price alerts: POST/GET /api/alerts, DELETE /api/alerts/{id}."""

from __future__ import annotations

from django.http import HttpResponse
from ninja import Path, Query, Router

from alerts import selectors, services
from alerts.schemas import AlertIn, AlertOut, AlertsQuery
from core.api_errors import ErrorOut
from core.db import write

router = Router(tags=["alerts"])

ALERT_ID = Path(..., min_length=1, max_length=64, pattern=r"^[0-9a-f-]+$", description="The alert's id.")


def _alert_json(alert, status: int = 200) -> HttpResponse:
    return HttpResponse(
        AlertOut.model_validate(alert).model_dump_json(), status=status, content_type="application/json; charset=utf-8"
    )


@router.post(
    "",
    response={201: AlertOut, 400: ErrorOut, 409: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut},
    summary="Set a price alert on a watched or held ticker: it fires once, when a live price reaches it",
)
async def create_alert(request, payload: AlertIn):
    alert = await write(services.create_alert, user_id=request.book, **payload.model_dump())
    return _alert_json(alert, status=201)


@router.get("", response={200: list[AlertOut], 422: ErrorOut}, summary="The alerts, newest first")
def list_alerts(request, filters: Query[AlertsQuery]):
    return [AlertOut.model_validate(a) for a in selectors.alerts(user_id=request.book, status=filters.status,
                                                                limit=filters.limit)]


@router.delete(
    "/{alert_id}",
    response={200: AlertOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Cancel an active alert; 409 if it has fired or was canceled",
)
async def cancel_alert(request, alert_id: str = ALERT_ID):
    return _alert_json(await write(services.cancel_alert, user_id=request.book, alert_id=alert_id))
