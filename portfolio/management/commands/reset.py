import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.db import DEFAULT_USER
from portfolio import selectors, services


class Command(BaseCommand):
    help = (
        "Reset a portfolio: $10,000 cash, the default watchlist; positions, trades, snapshots and chat deleted. "
        "--user NAME resets that account's; without it, the implicit user's (ACCOUNTS=off)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", metavar="NAME", help="The account whose portfolio to reset.")
        parser.add_argument("--yes", action="store_true", help="Do it without asking (scripts, tests).")

    def handle(self, *args, user=None, yes=False, **options):
        book, whose = self._book(user)
        if not yes:
            if not options.get("interactive", True) or not sys.stdin.isatty():
                raise CommandError("There is no terminal to confirm on: pass --yes to reset without asking.")
            try:
                answer = input(f"This deletes every position, trade, snapshot and chat message of {whose}. "
                               "Type 'reset' to go on: ")
            except EOFError:
                answer = ""
            if answer.strip() != "reset":
                raise CommandError("Reset cancelled.")
        services.reset(user_id=book)
        self.stdout.write(f"Portfolio of {whose} reset to $10,000 and the default watchlist.")

    @staticmethod
    def _book(username: str | None) -> tuple[str, str]:
        if username is None:
            if settings.ACCOUNTS:
                raise CommandError("Accounts are on (ACCOUNTS=on): name the account with --user NAME.")
            return DEFAULT_USER, "the implicit user"
        account = get_user_model()._default_manager.filter(username=username).first()
        if account is None:
            raise CommandError(f"There is no account named {username!r}.")
        book = selectors.book_of(account_id=account.pk)
        if book is None:
            book = services.open_book(account_id=account.pk)
        return book, f"account {username!r}"
