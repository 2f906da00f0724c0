import sys

from django.core.management.base import BaseCommand, CommandError

from portfolio import services


class Command(BaseCommand):
    help = "Reset the portfolio: $10,000 cash, the default watchlist; positions, trades, snapshots and chat deleted."

    def add_arguments(self, parser):
        parser.add_argument("--yes", action="store_true", help="Do it without asking (scripts, tests).")

    def handle(self, *args, yes=False, **options):
        if not yes:
            if not options.get("interactive", True) or not sys.stdin.isatty():
                raise CommandError("There is no terminal to confirm on: pass --yes to reset without asking.")
            try:
                answer = input("This deletes every position, trade, snapshot and chat message. Type 'reset' to go on: ")
            except EOFError:
                answer = ""
            if answer.strip() != "reset":
                raise CommandError("Reset cancelled.")
        services.reset()
        self.stdout.write("Portfolio reset to $10,000 and the default watchlist.")
