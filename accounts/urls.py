from django.contrib.auth.views import LogoutView
from django.urls import path

from accounts import views

urlpatterns = [
    path("login", views.SignIn.as_view(), name="login"),
    path("logout", LogoutView.as_view(), name="logout"),
    path("signup", views.signup, name="signup"),
    path("account", views.account, name="account"),
    path("account/tokens", views.token_create, name="token-create"),
    path("account/tokens/<str:token_id>/revoke", views.token_revoke, name="token-revoke"),
    path("account/leaderboard", views.leaderboard_entry, name="leaderboard-entry"),
    path("leaderboard", views.leaderboard, name="leaderboard"),
]
