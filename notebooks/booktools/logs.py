"""Counting log lines that a demo cannot predict.

Some DBOS warnings depend on timing alone: two processes that claim from the same
queue in the same instant make DBOS log "Contention detected ..." and back off,
or not. A cell that must print the same thing every run counts such lines
instead of printing them, and prints the count.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator


@dataclass
class CountedLines:
    text: str
    count: int = 0


@contextmanager
def counted_log_lines(text: str, logger: str = "dbos") -> Iterator[CountedLines]:
    """While the block runs, count the records of `logger` that contain `text`,
    and keep them out of the output. Every other record is logged as usual."""
    counted = CountedLines(text)

    def count_and_drop(record: logging.LogRecord) -> bool:
        if text in record.getMessage():
            counted.count += 1
            return False
        return True

    target = logging.getLogger(logger)
    target.addFilter(count_and_drop)
    try:
        yield counted
    finally:
        target.removeFilter(count_and_drop)
