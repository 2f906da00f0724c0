from django.contrib import admin

from assistant.models import ChatMessage


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "role", "short_content", "user_id"]
    list_filter = ["role", "created_at"]
    search_fields = ["content"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "user_id", "role", "content", "actions", "created_at"]

    @admin.display(description="content")
    def short_content(self, obj):
        return obj.content[:80]

    def has_add_permission(self, request):
        return False
