from decimal import Decimal

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from market.admin import QuotedTickerAdmin
from portfolio import services
from portfolio.models import Order, PortfolioSnapshot, Position, Profile, Trade
from portfolio.money import to_cents

RESET_CONFIRMATION = "reset"


class ReadOnlyMixin:
    """For records that are history: they can be inspected, never edited, added or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["id", "account", "cash_balance", "on_leaderboard", "created_at"]
    readonly_fields = ["id", "account", "cash_balance", "created_at"]
    search_fields = ["id", "account__username"]
    actions = ["reset_portfolio"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Reset portfolio to $10,000 (deletes positions, trades, snapshots, chat)")
    def reset_portfolio(self, request, queryset):
        # Two steps, and the word typed out: a reset cannot be undone.
        if request.POST.get("confirmation") == RESET_CONFIRMATION:
            for profile in queryset:
                services.reset(user_id=profile.id)
            self.message_user(request, f"Reset {queryset.count()} portfolio(s).", messages.SUCCESS)
            return None
        if "confirmation" in request.POST:
            self.message_user(request, f"Type '{RESET_CONFIRMATION}' to confirm; nothing was reset.", messages.WARNING)
        return TemplateResponse(
            request,
            "admin/portfolio/reset_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "title": "Reset portfolio?",
                "profiles": queryset,
                "confirmation_word": RESET_CONFIRMATION,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )


@admin.register(Position)
class PositionAdmin(ReadOnlyMixin, QuotedTickerAdmin):
    list_display = ["user_id", "ticker", "quantity", "avg_cost", "cost_basis", "last_price", "market_value",
                    "updated_at"]
    search_fields = ["ticker", "user_id"]

    @admin.display(description="market value")
    def market_value(self, obj):
        quote = getattr(obj, "quote", None)
        return f"{to_cents(obj.quantity * Decimal(str(quote.price))):,.2f}" if quote else "—"


@admin.register(Trade)
class TradeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["executed_at", "user_id", "side", "ticker", "quantity", "price", "notional", "realized_pnl"]
    list_filter = ["side", "ticker", "executed_at"]
    search_fields = ["ticker", "user_id"]
    date_hierarchy = "executed_at"


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["recorded_at", "total_value", "user_id"]
    list_filter = ["recorded_at"]
    date_hierarchy = "recorded_at"


@admin.register(Order)
class OrderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    # Read-only: an order changes only through portfolio.orders (a cancel releases its reservation under the book's
    # lock), never by editing its row.
    list_display = ["created_at", "user_id", "type", "side", "ticker", "qty", "limit_price", "stop_price",
                    "time_in_force", "status", "filled_avg_price"]
    list_filter = ["status", "type", "side"]
    search_fields = ["user_id", "ticker", "id", "client_order_id"]
