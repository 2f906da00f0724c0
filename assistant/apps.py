from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "assistant"

    def ready(self):
        from assistant import services
        from portfolio.services import portfolio_reset

        portfolio_reset.connect(services.clear_chat_on_reset, dispatch_uid="assistant-clear-chat")
