from django import forms
from django.contrib import admin

from market.exceptions import InvalidTicker
from market.models import WatchlistEntry
from market.store import get_store
from market.tickers import normalize_ticker


class WatchlistEntryForm(forms.ModelForm):
    class Meta:
        model = WatchlistEntry
        fields = ["user_id", "ticker"]

    def clean_ticker(self):
        """The same symbol rules as the API, so the admin cannot add what the worker could not price."""
        try:
            return normalize_ticker(self.cleaned_data["ticker"])
        except InvalidTicker as exc:
            raise forms.ValidationError(str(exc)) from None


class QuotedTickerAdmin(admin.ModelAdmin):
    """A changelist of rows with a `ticker`: reads the price store once per page, not once per row and column."""

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        quotes = get_store().quotes([row.ticker for row in rows]) if rows else {}
        for row in rows:
            row.quote = quotes.get(row.ticker)
        return changelist

    @admin.display(description="last price")
    def last_price(self, obj):
        quote = getattr(obj, "quote", None)
        return f"{quote.price:,.2f}" if quote else "—"


@admin.register(WatchlistEntry)
class WatchlistEntryAdmin(QuotedTickerAdmin):
    form = WatchlistEntryForm
    list_display = ["ticker", "last_price", "added_at", "user_id"]
    list_filter = ["user_id"]
    search_fields = ["ticker"]
    ordering = ["added_at"]
