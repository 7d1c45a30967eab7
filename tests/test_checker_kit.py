"""The checker kit (booktools.exercises) keeps the promises every chapter's checker relies on.

A checker never hangs and never raises; it names the shape of a wrong answer before judging
what it did; it never blames the learner for the notebook's own state; DBOS's background
tracebacks stay out of the verdict; and no checker carries plumbing of its own.
"""

import asyncio
import re
import threading
import time
from pathlib import Path

import pytest
from dbos import DBOS, SetWorkflowID

from booktools import exercises
from booktools.exercises import (
    NOT_RUNNING, checker, correct, is_unchanged_starter, wait_for_workflow, wrong_kind_of_function,
    wrong_shape,
)
from support import assert_todo, assert_wrong, launched_dbos

BOOKTOOLS = Path(__file__).resolve().parent.parent / "notebooks" / "booktools"

# The runner under test. A module attribute, so that the old per-chapter runners can be put in
# its place to show that this file's hang tests catch them.
run_learner_code = exercises.off_the_event_loop


def within(seconds: float, fn):
    """fn()'s value, or a failed test if fn has not returned after `seconds` (a hanging runner
    then fails the test instead of hanging pytest)."""
    outcome = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: the runner hung"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def hang():
    threading.Event().wait()


async def hang_async():
    await asyncio.Event().wait()


# --- learner code runs with a real time limit -----------------------------------------------


@pytest.mark.parametrize("answer", [hang, hang_async], ids=["def", "async def"])
def test_a_hanging_answer_ends_with_a_clear_message_within_the_timeout(answer):
    @checker
    def check_answer(answer):
        run_learner_code(answer, timeout=0.5)
        return correct("it returned")

    started = time.monotonic()
    feedback = within(5, lambda: check_answer(answer))
    assert time.monotonic() - started < 2
    assert_wrong(feedback, "your code was still running after 0.5 s")


def test_an_awaited_checker_judges_on_the_caller_s_loop_and_never_hangs(monkeypatch):
    """An `async def` check (awaited in the cell, for answers that must run on the notebook's
    loop) keeps the promises: a starter is not done yet, an error is named, a hang ends."""

    @checker
    async def check_answer(answer):
        return correct(f"it returned {await answer()}")

    async def starter():
        ...

    async def fails():
        raise ValueError("boom")

    monkeypatch.setattr(exercises, "DEFAULT_TIMEOUT", 0.5)
    assert asyncio.run(check_answer(lambda: asyncio.sleep(0, "7"))).ok
    assert_todo(asyncio.run(check_answer(starter)))
    assert_wrong(asyncio.run(check_answer(fails)), "your code raised ValueError: boom")
    started = time.monotonic()
    feedback = asyncio.run(check_answer(hang_async))
    assert time.monotonic() - started < 2
    assert_wrong(feedback, "your code was still running after 0.5 s")


def test_an_async_answer_is_awaited_on_a_thread_with_no_event_loop():
    async def answer(number):
        await asyncio.sleep(0)
        return number * 2

    assert run_learner_code(answer, 21) == 42


def test_learner_code_runs_where_dbos_allows_blocking_calls_even_from_a_cell():
    async def cell():  # a notebook cell: its thread runs an event loop
        return run_learner_code(exercises._event_loop_running)

    assert asyncio.run(cell()) is False


def test_the_learner_s_exception_reaches_the_checker():
    def answer():
        raise KeyError("DBOS_SYSTEM_DATABASE_URL")

    with pytest.raises(KeyError):
        run_learner_code(answer)


# --- an unchanged starter is recognised at once ---------------------------------------------


def starter(order_id):
    ...  # your code here


def starter_with_docstring(order_id):
    """Enqueue the order."""
    pass


async def async_starter(order_id):
    ...


def fixture_starter(test_config):
    ...
    yield
    ...


@DBOS.workflow()
def decorated_starter(order_id: str) -> str:
    ...


@pytest.mark.parametrize(
    "answer",
    [..., {"worker_concurrency": ...}, {"limiter": {"limit": ...}}, ["line 1", ...], starter,
     starter_with_docstring, async_starter, fixture_starter, decorated_starter],
)
def test_unchanged_starters_are_recognised(answer):
    assert is_unchanged_starter(answer)


def returns_a_constant(order_id):
    return "done"


def calls_something(order_id):
    print(order_id)


@pytest.mark.parametrize(
    "answer",
    [None, 0, "text", [], {"worker_concurrency": 2}, returns_a_constant, calls_something,
     lambda client: client.set_latest_application_version("1"), dict],
)
def test_answers_with_content_are_not_starters(answer):
    assert not is_unchanged_starter(answer)


def test_a_checker_says_not_done_yet_for_a_starter_without_running_anything():
    @checker(needs_dbos=True)
    def check_answer(answer):
        raise AssertionError("the check ran on a starter")

    assert_todo(check_answer(starter))


# --- the shape of an answer is named before its effects -------------------------------------


class FakeHandle:
    def get_workflow_id(self):
        return "wf-1"

    def get_result(self):
        return "paid"


async def some_coroutine():
    return "paid"


def test_a_handle_where_a_result_is_expected_is_named():
    assert_wrong(wrong_shape(FakeHandle(), expected="result", call="pay()"),
                 "pay() returned a workflow handle, not the workflow's result")


def test_a_coroutine_where_a_value_is_expected_is_named():
    feedback = wrong_shape(some_coroutine(), expected="handle", call="submit_order()")
    assert_wrong(feedback, "submit_order() returned a coroutine")


@pytest.mark.parametrize(
    "value, hint",
    [(None, "returned None"), ("paid", "returned str 'paid', not a workflow handle")],
)
def test_a_value_where_a_handle_is_expected_is_named(value, hint):
    assert_wrong(wrong_shape(value, expected="handle", call="submit()"), hint)


def test_the_right_shape_passes():
    assert wrong_shape("paid", expected="result", call="pay()") is None
    assert wrong_shape(FakeHandle(), expected="handle", call="submit()") is None


def test_an_async_call_made_without_await_is_named():
    class Client:
        async def set_latest_application_version_async(self, version):
            return version

    def roll_back(client):
        client.set_latest_application_version_async("1")  # no await: it never runs

    with exercises.coroutines_never_awaited() as dropped:
        run_learner_code(roll_back, Client())
    assert dropped == ["test_an_async_call_made_without_await_is_named.<locals>.Client"
                       ".set_latest_application_version_async"]


def test_sync_and_async_functions_are_told_apart():
    assert_wrong(wrong_kind_of_function(async_starter, expected="sync", name="submit_order"),
                 "should be a plain `def`")
    assert_wrong(wrong_kind_of_function(starter, expected="async", name="roll_back"),
                 "should be an `async def`")
    assert_wrong(wrong_kind_of_function({"a": 1}, expected="sync", name="pay"), "a function")
    assert wrong_kind_of_function(starter, expected="sync", name="pay") is None


# --- with DBOS: waiting for a workflow, DBOS's state, DBOS's log lines ----------------------


RELEASE = threading.Event()  # set by the test that starts kit_waits_forever, once it is done


@DBOS.workflow()
def kit_waits_forever() -> str:
    RELEASE.wait(30)  # cancelling a workflow does not stop its thread: the test lets it go
    return "released"


@DBOS.workflow()
def kit_raises() -> str:
    raise ValueError("the learner's bug")


@DBOS.workflow()
def kit_returns() -> str:
    return "done"


@pytest.fixture
def dbos(tmp_path):
    with launched_dbos("kit-checks", tmp_path / "kit.sqlite"):
        yield


def start(workflow):
    workflow_id = f"kit-{workflow.__name__}-{time.monotonic_ns()}"
    with SetWorkflowID(workflow_id):
        return workflow_id, DBOS.start_workflow(workflow)


def test_a_workflow_that_never_ends_is_cancelled_at_the_limit(dbos):
    RELEASE.clear()
    workflow_id, _ = run_learner_code(start, kit_waits_forever)
    started = time.monotonic()
    run = wait_for_workflow(workflow_id, 0.5)
    waited = time.monotonic() - started
    RELEASE.set()
    assert waited < 3
    assert (run.finished, run.status) == (False, "CANCELLED")


def test_a_workflow_that_is_not_the_check_s_can_be_left_running_at_the_limit(dbos):
    RELEASE.clear()
    workflow_id, _ = run_learner_code(start, kit_waits_forever)
    run = wait_for_workflow(workflow_id, 0.3, cancel_at_limit=False)
    still = run_learner_code(DBOS.get_workflow_status, workflow_id).status
    RELEASE.set()
    assert (run.finished, run.status, still) == (False, "PENDING", "PENDING")


def test_a_finished_workflow_gives_its_result_or_its_error(dbos):
    done_id, _ = run_learner_code(start, kit_returns)
    failed_id, failed_handle = run_learner_code(start, kit_raises)
    done = wait_for_workflow(done_id, 10)
    failed = wait_for_workflow(failed_id, 10, handle=failed_handle)
    assert (done.finished, done.status, done.result) == (True, "SUCCESS", "done")
    assert (failed.status, type(failed.error), str(failed.error)) == (
        "ERROR", ValueError, "the learner's bug")


def test_waiting_works_from_a_cell_s_thread_too(dbos):
    workflow_id, _ = run_learner_code(start, kit_returns)

    async def cell():  # DBOS refuses blocking calls here; the kit moves them off the loop
        return wait_for_workflow(workflow_id, 10)

    assert asyncio.run(cell()).result == "done"


def test_dbos_background_tracebacks_are_counted_not_shown(dbos, capfd):
    @checker(needs_dbos=True)
    def check_answer(answer):
        workflow_id, handle = run_learner_code(start, answer)
        run = wait_for_workflow(workflow_id, 10, handle=handle)
        return exercises.wrong(f"your workflow raised {type(run.error).__name__}")

    capfd.readouterr()
    feedback = check_answer(kit_raises)
    assert "Traceback" not in capfd.readouterr().err
    assert_wrong(feedback, "your workflow raised ValueError")
    summary = feedback.message.splitlines()[-1]
    assert summary.startswith("(DBOS logged 1 error from its threads during the check")


def test_a_check_without_dbos_says_what_to_do_instead_of_blaming_the_learner(tmp_path):
    def pay(invoice_id):  # right, but the chapter's set-up cells have not run
        with SetWorkflowID(f"pay-{invoice_id}"):
            return DBOS.start_workflow(kit_returns).get_result()

    @checker(needs_dbos=True)
    def check_pay(pay):
        return correct(run_learner_code(pay, "INV-1"))

    with launched_dbos("kit-checks", tmp_path / "kit.sqlite"):
        assert check_pay(pay).ok
    feedback = check_pay(pay)  # DBOS destroyed: a restarted kernel, or a chapter's shutdown
    assert (feedback.status, feedback.message) == ("setup", NOT_RUNNING)
    assert str(feedback).count("\n") == 0


def test_a_check_that_finds_dbos_gone_midway_says_so_too(tmp_path):
    @checker(needs_dbos=True)
    def check_answer(answer):
        run_learner_code(DBOS.destroy)  # as chapter 1's old checker did to the learner
        return correct(run_learner_code(start, answer))

    with launched_dbos("kit-checks", tmp_path / "kit.sqlite"):
        feedback = check_answer(kit_returns)
    assert feedback.status == "setup", feedback


# --- no checker carries plumbing of its own -------------------------------------------------

PRIVATE_DBOS = re.compile(
    r"\bdbos\._|from dbos import _|_dbos_global_instance|_get_or_create_dbos_registry"
    r"|\._launched\b"
)
# Learner-code runners, starter detectors and pollers belong in the kit (exercises.py).
OWN_PLUMBING = re.compile(
    r"ThreadPoolExecutor|concurrent\.futures|threading\.Thread|asyncio\.run\(|co_code"
    r"|while time\.monotonic\(\)|while not .* and time\.monotonic\(\)"
)
MODULES = sorted(str(path.relative_to(BOOKTOOLS)) for path in BOOKTOOLS.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_booktools_uses_public_dbos_and_the_kit_s_plumbing_only(module):
    text = (BOOKTOOLS / module).read_text()
    assert not PRIVATE_DBOS.findall(text), "use DBOS's public API (from dbos import DBOS, error)"
    if module.startswith("checks/"):
        found = OWN_PLUMBING.findall(text)
        assert not found, f"{found}: use the kit in booktools/exercises.py"
    else:
        assert "ThreadPoolExecutor" not in text


# Imports every checker in a fresh interpreter, with DBOS's registering decorators replaced by
# ones that only count (public API only), and prints what each import registered.
COUNT_REGISTRATIONS = """
import importlib, json, sys
from dbos import DBOS
registered = {}
def counting(kind):
    def decorator_factory(*args, **kwargs):
        registered.setdefault(current, []).append(kind)
        return lambda function: function
    return decorator_factory
for kind in ("workflow", "step", "transaction", "dbos_class"):
    setattr(DBOS, kind, staticmethod(counting(kind)))
for current in sys.argv[1:]:
    importlib.import_module(current)
print(json.dumps(registered))
"""


def test_importing_a_checker_registers_nothing_in_the_learner_s_application():
    """A checker registers what it needs when its check runs, and the exercise says so."""
    import json
    import subprocess
    import sys

    modules = ["booktools." + m[:-3].replace("/", ".") for m in MODULES
               if re.fullmatch(r"checks/ch\d\d_\w+\.py", m)]
    shown = subprocess.run([sys.executable, "-c", COUNT_REGISTRATIONS, *modules],
                           capture_output=True, text=True, cwd=BOOKTOOLS.parent, check=True)
    assert json.loads(shown.stdout) == {}


def test_importing_booktools_registers_nothing_it_is_machinery_only():
    """Lesson code that registers DBOS functions lives where a chapter shows it:
    chapter 11's measured workflows in notebooks/cost_lab/, the capstone's in
    notebooks/order_service/."""
    import json
    import subprocess
    import sys

    modules = [("booktools." + m[:-3].replace("/", ".")).removesuffix(".__init__")
               for m in MODULES]
    shown = subprocess.run([sys.executable, "-c", COUNT_REGISTRATIONS, *modules],
                           capture_output=True, text=True, cwd=BOOKTOOLS.parent,
                           check=True)
    registered = json.loads(shown.stdout)
    assert registered == {}, f"{registered}: move them to a package the chapter shows"


def test_the_plumbing_scan_sees_every_checker():
    checkers = [m for m in MODULES if re.fullmatch(r"checks/ch\d\d_\w+\.py", m)]
    assert "checks/ch00_why.py" in checkers and "checks/ch06_client.py" in checkers
