"""Checkers for chapter 1, the DBOS lifecycle.

The check calls make_config() on this thread, with the variable set and unset, and judges the
dictionaries it returns; it starts no DBOS and leaves the notebook's DBOS as it is.
"""

import re

from ..exercises import Feedback, checker, correct, environment_variable, wrong

VARIABLE = "DBOS_SYSTEM_DATABASE_URL"
SERVER_URL = "postgresql://mailer:secret@127.0.0.1:5432/invoice_mailer"
FALLBACK_URL = "sqlite:///invoice_mailer.sqlite"
# DBOS 3.4's rule for application names (DBOSInitializationError "Invalid app name" otherwise)
VALID_NAME = re.compile(r"[a-z0-9_-]{3,256}")


@checker
def check_make_config(make_config) -> Feedback:
    with environment_variable(VARIABLE, None):
        try:
            unset = make_config()
        except KeyError:
            return wrong(
                f"with {VARIABLE} unset, your function raised KeyError. "
                f'Use os.environ.get("{VARIABLE}", <fallback>) so it has a default.'
            )
    if unset is None:
        return wrong("make_config() returned None: return the configuration dictionary.")
    with environment_variable(VARIABLE, SERVER_URL):
        with_server = make_config()

    if not isinstance(unset, dict):
        return wrong(f"make_config() returned {type(unset).__name__}; return a dict, a DBOSConfig.")
    name = str(unset.get("name", ""))
    if not VALID_NAME.fullmatch(name):
        return wrong(
            f"DBOS rejects the name {name!r}: names are 3-256 characters of lowercase "
            "letters, digits, '-' and '_'. Try 'invoice-mailer'."
        )
    if "invoice" not in name or "mailer" not in name:
        return wrong(f"{name!r} is a valid name, but not Invoice Mailer's.")

    if with_server.get("system_database_url") != SERVER_URL:
        return wrong(
            f"with {VARIABLE} set, system_database_url should be its value, but it was "
            f"{with_server.get('system_database_url')!r}. Read the variable inside make_config(), "
            "not at import time, and do not hard-code the SQLite URL."
        )
    if unset.get("system_database_url") not in (FALLBACK_URL, None):
        return wrong(
            f"with {VARIABLE} unset, system_database_url should fall back to {FALLBACK_URL!r}, "
            f"not {unset.get('system_database_url')!r}."
        )
    if "application_version" not in unset:
        return wrong(
            "the application version is not pinned, so DBOS computes it from the source: "
            "after any edit, a restart would recover nothing. Set application_version to '1.0'."
        )
    if unset["application_version"] != "1.0":
        return wrong(f"application_version should be '1.0', not {unset['application_version']!r}.")
    if str(unset.get("log_level", "")).upper() != "WARNING":
        return wrong(f"log_level should be 'WARNING', not {unset.get('log_level')!r}.")
    return correct(
        f"a valid name, the database from {VARIABLE} with a SQLite fallback, "
        "a pinned version, and quiet logs."
    )
