"""Pages of the accounts app: sign in, sign up, sign out (Django's view), and the account's own page (its API tokens
and its leaderboard entry); the leaderboard."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors, services, throttle
from accounts.exceptions import AccountError
from accounts.forms import LeaderboardForm, LoginForm, SignupForm, TokenForm
from portfolio import selectors as portfolio_selectors
from portfolio import services as portfolio_services
from portfolio.exceptions import InvalidProfile
from portfolio.models import Profile


class SignIn(LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True
    extra_context = {"title": "Sign in"}

    def dispatch(self, request, *args, **kwargs):
        if not settings.ACCOUNTS:
            return redirect("workstation")  # no one to sign in as: the implicit user's page
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(signup=settings.ACCOUNTS_SIGNUP, **kwargs)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429  # scripts and monitoring see the throttle, not a plain wrong password
        return response


def _accounts_on() -> None:
    if not settings.ACCOUNTS:
        raise Http404("Accounts are off (ACCOUNTS=on turns them on).")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if not (settings.ACCOUNTS and settings.ACCOUNTS_SIGNUP):
        raise Http404("Sign-up is closed: an admin makes accounts.")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        # Every form sent counts, before it is read: a burst cannot pass a count none of it is in yet, and trying
        # names to learn which exist costs the same budget as making accounts.
        refused = throttle.signup_refusal(throttle.client_address(request))
        if refused:
            return render(request, "accounts/signup.html", {"form": SignupForm(), "title": "Sign up",
                                                           "refused": refused}, status=429)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.create_account(
                username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
            return redirect("workstation")
    return render(request, "accounts/signup.html", {"form": form, "title": "Sign up"})


def _account_page(request: HttpRequest, *, new_token: str = "", token_form=None, board_form=None, status=200):
    profile = Profile.objects.get(pk=request.book)
    context = {
        "title": "Account",
        "tokens": selectors.tokens_of(user=request.user),
        "new_token": new_token,
        "token_form": token_form or TokenForm(),
        "board_form": board_form
        or LeaderboardForm(
            initial={"show": profile.on_leaderboard, "display_name": profile.display_name or request.user.username}
        ),
    }
    return render(request, "accounts/account.html", context, status=status)


@require_GET
def account(request: HttpRequest) -> HttpResponse:
    _accounts_on()
    return _account_page(request)


@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    _accounts_on()
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _account_page(request, token_form=form, status=400)
    try:
        _, token = services.issue_token(user=request.user, name=form.cleaned_data["name"])
    except AccountError as exc:
        form.add_error(None, str(exc))
        return _account_page(request, token_form=form, status=400)
    # Shown on this response only; the page after a reload lists it by its first characters.
    response = _account_page(request, new_token=token)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request: HttpRequest, token_id: str) -> HttpResponse:
    _accounts_on()
    try:
        services.revoke_token(user=request.user, token_id=token_id)
    except AccountError as exc:
        raise Http404(str(exc)) from None
    return redirect("account")


@require_POST
def leaderboard_entry(request: HttpRequest) -> HttpResponse:
    _accounts_on()
    form = LeaderboardForm(request.POST)
    if form.is_valid():
        try:
            portfolio_services.set_leaderboard(
                user_id=request.book, show=form.cleaned_data["show"], display_name=form.cleaned_data["display_name"]
            )
        except InvalidProfile as exc:
            form.add_error("display_name", str(exc))
        else:
            return redirect("account")
    return _account_page(request, board_form=form, status=400)


@require_GET
def leaderboard(request: HttpRequest) -> HttpResponse:
    return render(
        request, "accounts/leaderboard.html", {"title": "Leaderboard", "rows": portfolio_selectors.leaderboard()}
    )
