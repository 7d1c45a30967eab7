"""Checkers for chapter 1, the DBOS lifecycle."""


from ..exercises import Feedback, checker, correct, environment_variable, todo, wrong

VARIABLE = "DBOS_SYSTEM_DATABASE_URL"
SERVER_URL = "postgresql://mailer:secret@127.0.0.1:5432/invoice_mailer"
FALLBACK_URL = "sqlite:///invoice_mailer.sqlite"


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
    if unset is None or unset is ...:
        return todo()
    with environment_variable(VARIABLE, SERVER_URL):
        with_server = make_config()

    name = unset.get("name", "")
    from dbos import DBOS
    from dbos._error import DBOSInitializationError

    DBOS.destroy()
    try:
        DBOS(config=unset)  # DBOS's own validation of the name
    except DBOSInitializationError:
        return wrong(
            f"DBOS rejects the name {name!r}: names are 3-256 characters of lowercase "
            "letters, digits, '-' and '_'. Try 'invoice-mailer'."
        )
    finally:
        DBOS.destroy()
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
