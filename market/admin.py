from django.contrib import admin

from market.models import WatchlistEntry
from market.store import get_store


@admin.register(WatchlistEntry)
class WatchlistEntryAdmin(admin.ModelAdmin):
    list_display = ["ticker", "last_price", "added_at", "user_id"]
    list_filter = ["user_id"]
    search_fields = ["ticker"]
    ordering = ["added_at"]

    @admin.display(description="last price")
    def last_price(self, obj):
        quote = get_store().latest(obj.ticker)
        return f"{quote.price:,.2f}" if quote else "—"
