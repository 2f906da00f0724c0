"""Logging helpers wired in settings.LOGGING."""

from __future__ import annotations

import logging


class WithoutTraceback(logging.Filter):
    """One line per record: for events that are expected and frequent (a scanner's forged Host header), whose
    traceback says nothing the message does not and would bury the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True
