from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError

from accounts import services
from accounts.exceptions import SignInRefused


class LoginForm(AuthenticationForm):
    """Django's sign-in form, through the throttle (accounts.services.sign_in): one message for a wrong name and a
    wrong password alike. A throttled attempt says so and marks `throttled` (not the fields, which may be right)."""

    throttled = False

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = services.sign_in(self.request, username=username, password=password)
            except SignInRefused as exc:
                self.throttled = exc.retry_after is not None
                raise ValidationError(str(exc), code="throttled" if self.throttled else "invalid_login") from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class StaffLoginForm(LoginForm, AdminAuthenticationForm):
    """The admin's sign-in, through the same throttle (staff only, as Django's admin form checks)."""


class SignupForm(UserCreationForm):
    """Django's own: a unique name, the password twice, the password validators."""


class TokenForm(forms.Form):
    name = forms.CharField(max_length=60, required=False, label="Token name")


class LeaderboardForm(forms.Form):
    show = forms.BooleanField(required=False, label="Show my return on the leaderboard")
    display_name = forms.CharField(max_length=40, required=False, label="Display name")
