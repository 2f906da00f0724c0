from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class AccountBackend(ModelBackend):
    """Django's ModelBackend (passwords, is_active), reading the account's book in the same query as the account:
    every signed-in request needs both (accounts.middleware)."""

    def _accounts(self):
        return get_user_model()._default_manager.select_related("book")

    def get_user(self, user_id):
        model = get_user_model()
        try:
            user = self._accounts().get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    async def aget_user(self, user_id):
        model = get_user_model()
        try:
            user = await self._accounts().aget(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
