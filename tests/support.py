"""What the checker tests share: DBOS on a SQLite file of the test's own, and the assertions."""

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from dbos import DBOS, DBOSConfig

from booktools.exercises import off_the_event_loop


def checker_config(name: str, database: Path, log_level: str = "WARNING") -> DBOSConfig:
    """A throwaway application on `database`, polling as fast as the notebooks do."""
    return {
        "name": name,
        "system_database_url": f"sqlite:///{database}",
        "application_version": "test",
        "log_level": log_level,
        "notification_listener_polling_interval_sec": 0.05,
    }


@contextmanager
def launched_dbos(
    name: str,
    database: Path,
    log_level: str = "WARNING",
    before_launch: Callable[[], object] | None = None,
    after_launch: Callable[[], object] | None = None,
) -> Iterator[None]:
    """A fresh DBOS on `database` for the block, destroyed afterwards, as a notebook launches it.

    before_launch runs between DBOS(config=...) and launch() (datasources are created there),
    after_launch right after launch() (queues are registered there). DBOS is set up and torn
    down off the event loop: other tests in the session (Playwright's sync API) may leave one
    running in this thread, where DBOS refuses blocking calls. The dbos logger's level is put
    back afterwards, so a quiet DBOS does not silence the next module's.
    """
    level = logging.getLogger("dbos").level

    def launch() -> None:
        DBOS.destroy()
        DBOS(config=checker_config(name, database, log_level))
        if before_launch is not None:
            before_launch()
        DBOS.launch()
        if after_launch is not None:
            after_launch()

    off_the_event_loop(launch)
    try:
        yield
    finally:
        off_the_event_loop(DBOS.destroy)
        logging.getLogger("dbos").setLevel(level)


def assert_correct(feedback) -> None:
    """The checker accepted the answer."""
    assert feedback.status == "correct", feedback


def assert_todo(feedback) -> None:
    """The checker saw the unchanged starter."""
    assert feedback.status == "todo", feedback


def assert_wrong(feedback, hint: str) -> None:
    """The checker rejected the answer, and its message carries `hint`."""
    assert feedback.status == "wrong" and hint in feedback.message, feedback


def changed_config(config: dict, changes: dict) -> dict:
    """A copy of a config with `changes` applied; a change to None removes the key."""
    changed = {**config, **changes}
    return {key: value for key, value in changed.items() if value is not None}
