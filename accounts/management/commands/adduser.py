import getpass
import sys

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from core.db import DEFAULT_USER
from portfolio import selectors as portfolio_selectors


class Command(BaseCommand):
    help = (
        "Make an account with its own $10,000 book and the default watchlist. The password is asked on the "
        "terminal, or read from the first line of stdin when stdin is not a terminal (never from an argument, "
        "which other users of the machine could read in the process list)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        if get_user_model()._default_manager.filter(username=username).exists():
            raise CommandError(f"There is already an account named {username!r}.")
        password = self._password()
        try:
            user = services.create_account(username=username, password=password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if portfolio_selectors.book_of(account_id=user.pk) == DEFAULT_USER:
            # The first account: say so, as the admin may have expected a fresh book (portfolio.services.open_book).
            self.stdout.write(
                f"Account {username!r} made. It took over the existing single-user book, with its cash, positions, "
                "trades and watchlist (`manage.py reset --user NAME` starts it afresh)."
            )
        else:
            self.stdout.write(f"Account {username!r} made, with $10,000 and the default watchlist.")

    def _password(self) -> str:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("No password on stdin: send it as the first line.")
            return password
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return password
