from django.urls import path

from workstation import views

urlpatterns = [
    path("", views.workstation, name="workstation"),
    path("panels/summary", views.summary, name="summary"),
    path("panels/watchlist", views.watchlist, name="watchlist"),
    path("panels/chart", views.chart, name="chart"),
    path("panels/positions", views.positions, name="positions"),
    path("panels/heatmap", views.heatmap, name="heatmap"),
    path("panels/pnl", views.pnl, name="pnl"),
    path("panels/blotter", views.blotter, name="blotter"),
    path("panels/orders", views.orders, name="orders"),
    path("orders/<str:order_id>/cancel", views.order_cancel, name="order-cancel"),
    path("orders/cancel", views.orders_cancel_all, name="orders-cancel-all"),
    path("panels/alerts", views.alerts, name="alerts"),
    path("alerts/add", views.alert_add, name="alert-add"),
    path("alerts/<str:alert_id>/cancel", views.alert_cancel, name="alert-cancel"),
    path("watchlist/add", views.watchlist_add, name="watchlist-add"),
    path("watchlist/<str:ticker>/remove", views.watchlist_remove, name="watchlist-remove"),
    path("trade", views.trade, name="trade"),
    path("positions/close", views.close_position, name="close-position"),
    path("command", views.command, name="command"),
    path("chat", views.chat, name="chat"),
    path("stream/prices", views.price_stream, name="price-stream"),
    path("settings/webhooks", views.webhooks, name="webhooks"),
    path("favicon.ico", views.favicon, name="favicon"),
]
