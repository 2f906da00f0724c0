from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts.forms import StaffLoginForm
from accounts.models import ApiToken
from portfolio import services as portfolio_services

User = get_user_model()

# The admin's own login page is throttled like ours: without this it would be an unthrottled password oracle.
admin.site.login_form = StaffLoginForm


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed and revoked (deleted) here; made only by their owner, who alone ever sees one."""

    list_display = ["name", "user", "hint", "created_at"]
    search_fields = ["name", "user__username"]
    readonly_fields = ["user", "name", "hint", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.unregister(User)


@admin.register(User)
class AccountAdmin(UserAdmin):
    """Django's user admin; an account made here gets its book at once ($10,000, the default watchlist), as one made
    by `adduser` or sign-up does, so the first account made takes over the implicit user's book whichever way."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            portfolio_services.open_book(account_id=obj.pk)
