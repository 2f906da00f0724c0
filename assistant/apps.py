from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "assistant"

    def ready(self):
        from portfolio.services import portfolio_reset

        from assistant import services

        portfolio_reset.connect(services.clear_chat_on_reset, dispatch_uid="assistant-clear-chat")
