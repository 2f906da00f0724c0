from django.contrib import admin

from webhooks.models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("user_id", "url", "created_at")
    search_fields = ("user_id", "url")
    readonly_fields = ("id", "created_at")
    exclude = ("secret",)  # the owner's to see, on their settings page


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user_id", "event", "status", "attempts", "last_status", "last_error")
    list_filter = ("status", "event")
    search_fields = ("id", "user_id")
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request):
        return False
