"""What the checker tests share: DBOS on a SQLite file of the test's own, and one assertion."""

from pathlib import Path

from dbos import DBOSConfig


def checker_config(name: str, database: Path, log_level: str = "WARNING") -> DBOSConfig:
    """A throwaway application on `database`, polling as fast as the notebooks do."""
    return {
        "name": name,
        "system_database_url": f"sqlite:///{database}",
        "application_version": "test",
        "log_level": log_level,
        "notification_listener_polling_interval_sec": 0.05,
    }


def assert_wrong(feedback, hint: str) -> None:
    """The checker rejected the answer, and its message carries `hint`."""
    assert feedback.status == "wrong" and hint in feedback.message, feedback
