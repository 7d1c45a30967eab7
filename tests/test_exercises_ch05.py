"""Chapter 5's checkers accept the solutions and explain typical wrong answers.

The first two checkers run the learner's workflow, so these tests launch DBOS
on a SQLite file of their own and destroy it afterwards.
"""

import pytest
from dbos import DBOS

from booktools.checks import ch05_communication as ch05
from support import assert_correct, assert_todo, assert_wrong, launched_dbos


@pytest.fixture(scope="module")
def dbos(tmp_path_factory):
    with launched_dbos("ch05-checks", tmp_path_factory.mktemp("ch05") / "checks.sqlite"):
        yield


# --- exercise 1: wait_for_decision -------------------------------------------


@DBOS.workflow()
def decision_solution(timeout_seconds: float) -> str:
    decision = DBOS.recv("decision", timeout_seconds=timeout_seconds)
    if decision is None:
        return "expired"
    verdict = "approved" if decision["approved"] else "rejected"
    return f"{verdict} by {decision['by']}"


def decision_starter(timeout_seconds: float) -> str:
    ...


@DBOS.workflow()
def decision_decorated_starter(timeout_seconds: float) -> str:
    ...


def decision_without_decorator(timeout_seconds: float) -> str:
    decision = DBOS.recv("decision", timeout_seconds=timeout_seconds)
    return "expired" if decision is None else f"approved by {decision['by']}"


@DBOS.workflow()
def decision_without_topic(timeout_seconds: float) -> str:
    decision = DBOS.recv(timeout_seconds=timeout_seconds)
    if decision is None:
        return "expired"
    verdict = "approved" if decision["approved"] else "rejected"
    return f"{verdict} by {decision['by']}"


@DBOS.workflow()
def decision_ignores_none(timeout_seconds: float) -> str:
    decision = DBOS.recv("decision", timeout_seconds=timeout_seconds)
    verdict = "approved" if decision["approved"] else "rejected"
    return f"{verdict} by {decision['by']}"


@DBOS.workflow()
def decision_always_approves(timeout_seconds: float) -> str:
    decision = DBOS.recv("decision", timeout_seconds=timeout_seconds)
    return "expired" if decision is None else f"approved by {decision['by']}"


@DBOS.step()
def receive_decision_in_a_step(timeout_seconds: float):
    return DBOS.recv("decision", timeout_seconds=timeout_seconds)


@DBOS.workflow()
def decision_recv_in_step(timeout_seconds: float) -> str:
    decision = receive_decision_in_a_step(timeout_seconds)
    return "expired" if decision is None else f"approved by {decision['by']}"


def test_ch05_decision_accepts_the_solution(dbos):
    assert_correct(ch05.check_wait_for_decision(decision_solution))


@pytest.mark.parametrize("starter", [decision_starter, decision_decorated_starter])
def test_ch05_decision_starter_is_not_done_yet(dbos, starter):
    assert_todo(ch05.check_wait_for_decision(starter))


@pytest.mark.parametrize(
    "workflow, hint",
    [
        (decision_without_decorator, "decorate it with @DBOS.workflow()"),
        (decision_without_topic, "Receive on that topic"),
        (decision_ignores_none, "returns None when the timeout passes"),
        (decision_always_approves, "Look at decision['approved']"),
        (decision_recv_in_step, "recv was called outside the workflow (in a step?)"),
    ],
)
def test_ch05_decision_explains_wrong_answers(dbos, workflow, hint):
    assert_wrong(ch05.check_wait_for_decision(workflow), hint)


# --- exercise 2: count_words -------------------------------------------------


@DBOS.step()
def count_line_for_tests(line: str) -> int:
    return len(line.split())


@DBOS.workflow()
def words_solution(lines: list[str]) -> int:
    total = 0
    for number, line in enumerate(lines, 1):
        words = count_line_for_tests(line)
        DBOS.write_stream("progress", f"line {number}: {words} words")
        total += words
    DBOS.close_stream("progress")
    DBOS.set_event("total", total)
    return total


def words_starter(lines: list[str]) -> int:
    ...


def words_without_decorator(lines: list[str]) -> int:
    total = 0
    for number, line in enumerate(lines, 1):
        words = count_line_for_tests(line)
        DBOS.write_stream("progress", f"line {number}: {words} words")
        total += words
    return total


@DBOS.workflow()
def words_as_events(lines: list[str]) -> int:
    total = 0
    for number, line in enumerate(lines, 1):
        words = count_line_for_tests(line)
        DBOS.set_event("progress", f"line {number}: {words} words")
        total += words
    DBOS.set_event("total", total)
    return total


@DBOS.workflow()
def words_closed_first(lines: list[str]) -> int:
    DBOS.close_stream("progress")
    total = 0
    for number, line in enumerate(lines, 1):
        words = count_line_for_tests(line)
        DBOS.write_stream("progress", f"line {number}: {words} words")
        total += words
    DBOS.set_event("total", total)
    return total


@DBOS.workflow()
def words_in_one_value(lines: list[str]) -> int:
    counts = [count_line_for_tests(line) for line in lines]
    report = "; ".join(f"line {n}: {c} words" for n, c in enumerate(counts, 1))
    DBOS.write_stream("progress", report)
    DBOS.close_stream("progress")
    DBOS.set_event("total", sum(counts))
    return sum(counts)


@DBOS.step()
def count_and_report(number: int, line: str) -> int:
    words = len(line.split())
    DBOS.write_stream("progress", f"line {number}: {words} words")
    return words


@DBOS.workflow()
def words_written_by_step(lines: list[str]) -> int:
    total = sum(count_and_report(n, line) for n, line in enumerate(lines, 1))
    DBOS.close_stream("progress")
    DBOS.set_event("total", total)
    return total


@DBOS.workflow()
def words_all_counted_first(lines: list[str]) -> int:
    counts = [count_line_for_tests(line) for line in lines]
    for number, words in enumerate(counts, 1):
        DBOS.write_stream("progress", f"line {number}: {words} words")
    DBOS.close_stream("progress")
    DBOS.set_event("total", sum(counts))
    return sum(counts)


@DBOS.workflow()
def words_never_closed(lines: list[str]) -> int:
    total = 0
    for number, line in enumerate(lines, 1):
        words = count_line_for_tests(line)
        DBOS.write_stream("progress", f"line {number}: {words} words")
        total += words
    DBOS.set_event("total", total)
    return total


@DBOS.workflow()
def words_without_total(lines: list[str]) -> int:
    total = 0
    for number, line in enumerate(lines, 1):
        words = count_line_for_tests(line)
        DBOS.write_stream("progress", f"line {number}: {words} words")
        total += words
    DBOS.close_stream("progress")
    return total


def test_ch05_words_accepts_the_solution(dbos):
    assert_correct(ch05.check_count_words(words_solution))


def test_ch05_words_starter_is_not_done_yet(dbos):
    assert_todo(ch05.check_count_words(words_starter))


@pytest.mark.parametrize(
    "workflow, hint",
    [
        (words_without_decorator, "decorate it with @DBOS.workflow()"),
        (words_as_events, "an event keeps only its latest value"),
        (words_closed_first, "closed before the progress lines were written"),
        (words_in_one_value, "one value per line"),
        (words_written_by_step, "written from inside a step"),
        (words_never_closed, "never closed"),
        (words_without_total, "the event 'total' should be 13"),
        (words_all_counted_first, "written only after 3 lines had been counted"),
    ],
)
def test_ch05_words_explains_wrong_answers(dbos, workflow, hint):
    assert_wrong(ch05.check_count_words(workflow), hint)


# --- exercise 3: predict the steps of checkout ------------------------------


def test_ch05_steps_accepts_the_right_prediction():
    assert_correct(ch05.check_predicted_steps(list(ch05.CHECKOUT_STEPS)))


def test_ch05_steps_starter_is_not_done_yet():
    assert_todo(ch05.check_predicted_steps(...))


def without(name):
    names = list(ch05.CHECKOUT_STEPS)
    names.remove(name)
    return names


@pytest.mark.parametrize(
    "prediction, hint",
    [
        (["DBOS.send"] + ch05.CHECKOUT_STEPS, "the send came from the notebook"),
        (ch05.CHECKOUT_STEPS[:5] + ["DBOS.writeStream"] + ch05.CHECKOUT_STEPS[5:],
         "part of that step"),
        (without("DBOS.sleep"), "records two steps"),
        (["DBOS.setEvent", "DBOS.recv", "DBOS.sleep", "charge_card", "log_line",
          "DBOS.closeStream"], "even for the same key"),
        (without("DBOS.closeStream"), "close_stream, called from the workflow"),
        (["DBOS.setEvent", "DBOS.sleep", "DBOS.recv"] + ch05.CHECKOUT_STEPS[3:],
         "in the wrong order"),
        # the calls' Python names: the count is right, the recorded names are not
        (["DBOS.set_event", "DBOS.recv", "DBOS.sleep", "charge_card", "log_line",
          "DBOS.set_event", "DBOS.close_stream"], "not under the names DBOS records"),
        (["set_event", "recv", "sleep", "charge_card", "log_line", "set_event", "close_stream"],
         "not under the names DBOS records"),
        # snake_case and a step missing: the missing close is named, not the spelling
        (["DBOS.set_event", "DBOS.recv", "DBOS.sleep", "charge_card", "log_line",
          "DBOS.set_event"], "close_stream, called from the workflow"),
    ],
)
def test_ch05_steps_explains_wrong_predictions(prediction, hint):
    assert_wrong(ch05.check_predicted_steps(prediction), hint)
