"""Checkers for chapter 5, workflow communication.

The first two checkers start the learner's workflow for real, with DBOS.start_workflow, on
the DBOS instance the notebook launched. They do their DBOS calls on a thread of their own:
inside a notebook cell an asyncio loop is running, and DBOS refuses its blocking calls there.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..exercises import (
    Feedback, WorkflowRun, checker, correct, off_the_event_loop, todo, wait_for_workflow, wrong,
    wrong_kind_of_function,
)


def _start(workflow, *args, prefix: str) -> tuple[str, Any]:
    from dbos import DBOS, SetWorkflowID

    workflow_id = f"{prefix}-{uuid.uuid4()}"
    with SetWorkflowID(workflow_id):
        handle = DBOS.start_workflow(workflow, *args)
    return workflow_id, handle


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _undecorated(function) -> Feedback:
    """Feedback for a function DBOS does not know as a workflow (its starter is caught before)."""
    return wrong(
        f"{function.__name__} is not a DBOS workflow, so DBOS cannot start it (and recv, "
        "set_event and write_stream refuse to run outside one): decorate it with "
        "@DBOS.workflow()."
    )


# --- exercise 1: wait_for_decision ------------------------------------------


def _decision_run(workflow, timeout_seconds: float, messages, wait_limit: float) -> WorkflowRun:
    from dbos import DBOS

    workflow_id, handle = _start(workflow, timeout_seconds, prefix="ch05-check-decision")
    for topic, message in messages:
        DBOS.send(workflow_id, message, topic)
    return wait_for_workflow(workflow_id, wait_limit, handle=handle)


def _check_wait_for_decision(workflow) -> Feedback:
    from dbos import error

    comment = ("comment", {"text": "Looks fine to me", "by": "Mallory"})
    try:
        approved = _decision_run(
            workflow, 2, [comment, ("decision", {"approved": True, "by": "Grace"})], 6
        )
    except error.DBOSWorkflowFunctionNotFoundError:
        return _undecorated(workflow)
    if not approved.finished:
        return wrong(
            "given a timeout of 2 seconds, your workflow was still running after 6. "
            "Pass timeout_seconds on to DBOS.recv (its default is 60 seconds)."
        )
    if approved.error is not None:
        message = str(approved.error)
        if "must be called from within a workflow" in message:
            return wrong(
                "recv was called outside the workflow (in a step?). Call DBOS.recv "
                f"directly in the workflow's body. The error was {_describe(approved.error)}"
            )
        return wrong(f"with a decision sent, your workflow raised {_describe(approved.error)}")
    names = approved.step_names()
    if "DBOS.recv" not in names:
        return wrong(
            "your workflow never called DBOS.recv: that is how a workflow receives a message."
        )
    if approved.result == "expired":
        return wrong(
            "the checker sent {'approved': True, 'by': 'Grace'} on the topic 'decision', "
            "but your workflow returned 'expired': it never saw it. Receive on that topic: "
            "DBOS.recv('decision', timeout_seconds=...). recv() with no topic only gets "
            "messages sent with no topic."
        )
    if approved.result != "approved by Grace":
        return wrong(
            f"after a comment and then {{'approved': True, 'by': 'Grace'}} on 'decision', "
            f"your workflow returned {approved.result!r}; expected 'approved by Grace'."
        )

    rejected = _decision_run(workflow, 2, [("decision", {"approved": False, "by": "Linus"})], 6)
    if rejected.error is not None:
        return wrong(f"given a rejection, your workflow raised {_describe(rejected.error)}")
    if rejected.result != "rejected by Linus":
        return wrong(
            f"given {{'approved': False, 'by': 'Linus'}}, your workflow returned "
            f"{rejected.result!r}; expected 'rejected by Linus'. Look at decision['approved']."
        )

    expired = _decision_run(workflow, 0.3, [], 5)
    if not expired.finished:
        return wrong(
            "given a timeout of 0.3 seconds and no message, your workflow was still waiting "
            "after 5 seconds. Pass timeout_seconds on to DBOS.recv (its default is 60 seconds)."
        )
    if expired.error is not None:
        hint = ""
        if isinstance(expired.error, TypeError) and "NoneType" in str(expired.error):
            hint = " DBOS.recv returns None when the timeout passes: check for None first."
        return wrong(f"with no message, your workflow raised {_describe(expired.error)}.{hint}")
    if expired.result != "expired":
        return wrong(
            f"with no message, your workflow returned {expired.result!r}; expected 'expired' "
            "(DBOS.recv returns None when the timeout passes)."
        )
    return correct(
        "it receives on the 'decision' topic only, passes the timeout to recv, "
        "and turns recv's None into 'expired'."
    )


@checker(needs_dbos=True)
def check_wait_for_decision(wait_for_decision) -> Feedback:
    kind = wrong_kind_of_function(wait_for_decision, expected="sync", name="wait_for_decision")
    return kind or off_the_event_loop(_check_wait_for_decision, wait_for_decision)


# --- exercise 2: count_words -------------------------------------------------

LINES = ["to be or not to be", "that is the question", "whether tis nobler"]
EXPECTED_PROGRESS = ["line 1: 6 words", "line 2: 4 words", "line 3: 3 words"]
EXPECTED_TOTAL = 13


def _check_count_words(workflow) -> Feedback:
    from dbos import DBOS
    from dbos import error

    try:
        workflow_id, handle = _start(workflow, list(LINES), prefix="ch05-check-words")
    except error.DBOSWorkflowFunctionNotFoundError:
        return _undecorated(workflow)
    run = wait_for_workflow(workflow_id, 10, handle=handle)
    if not run.finished:
        return wrong("your workflow was still running after 10 seconds.")
    if run.error is not None:
        return wrong(f"your workflow raised {_describe(run.error)}")
    names = run.step_names()

    progress = list(DBOS.read_stream(workflow_id, "progress", timeout_seconds=2))
    events = DBOS.get_all_events(workflow_id)
    if not progress:
        if "progress" in events:
            return wrong(
                "you published the progress with set_event: an event keeps only its latest "
                f"value ({events['progress']!r}), so a reader can miss lines. "
                "Use DBOS.write_stream('progress', ...) for every line."
            )
        if "DBOS.closeStream" in names and "DBOS.writeStream" in names and (
            names.index("DBOS.closeStream") < names.index("DBOS.writeStream")
        ):
            return wrong(
                "the stream was closed before the progress lines were written: readers stop "
                "at the close, so they never see values written after it. Close it at the end."
            )
        return wrong(
            "the stream 'progress' is empty. Write each line with "
            "DBOS.write_stream('progress', f'line {number}: {words} words')."
        )
    if len(progress) == 1 and len(LINES) > 1:
        return wrong(
            f"the stream holds a single value, {progress[0]!r}: write one value per line, "
            "as soon as that line is counted."
        )
    if progress != EXPECTED_PROGRESS:
        return wrong(f"for {LINES} the stream should read {EXPECTED_PROGRESS}, not {progress}.")
    if "DBOS.writeStream" not in names:
        return wrong(
            "the progress lines are right, but they were written from inside a step: the "
            "step is checkpointed as a whole, so its writes repeat if it runs again. Call "
            "DBOS.write_stream in the workflow, after count_line returns."
        )
    counted_before_each_write = [
        sum(1 for name in names[:at] if not name.startswith("DBOS."))
        for at, name in enumerate(names) if name == "DBOS.writeStream"
    ]
    if counted_before_each_write != list(range(1, len(LINES) + 1)):
        return wrong(
            "the progress lines are right, but they were written only after "
            f"{counted_before_each_write[0]} lines had been counted (the steps ran in this "
            f"order: {', '.join(names)}). Write each line's progress as soon as that line is "
            "counted, so a reader of the stream sees the work advance."
        )
    if "DBOS.closeStream" not in names:
        return wrong(
            "the stream is never closed, so readers keep waiting until the workflow ends. "
            "Call DBOS.close_stream('progress') once the last line is written."
        )
    if events.get("total") != EXPECTED_TOTAL:
        return wrong(
            f"the event 'total' should be {EXPECTED_TOTAL} for these lines; it is "
            f"{events.get('total')!r}. Set it with DBOS.set_event('total', total) at the end."
        )
    if run.result != EXPECTED_TOTAL:
        return wrong(f"the workflow should return the total, {EXPECTED_TOTAL}, not {run.result!r}.")
    return correct(
        "one progress line per line, written exactly once from the workflow, "
        "a closed stream, and the total as an event."
    )


@checker(needs_dbos=True)
def check_count_words(count_words) -> Feedback:
    kind = wrong_kind_of_function(count_words, expected="sync", name="count_words")
    return kind or off_the_event_loop(_check_count_words, count_words)


# --- exercise 3: predict the steps of checkout ------------------------------

CHECKOUT_STEPS = [
    "DBOS.setEvent",
    "DBOS.recv",
    "DBOS.sleep",
    "charge_card",
    "log_line",
    "DBOS.setEvent",
    "DBOS.closeStream",
]
# DBOS records its own calls under these names (list_workflow_steps shows them)
RECORDED_NAMES = {"set_event": "setEvent", "close_stream": "closeStream",
                  "write_stream": "writeStream", "recv": "recv", "sleep": "sleep", "send": "send",
                  "get_event": "getEvent"}


def _as_recorded(name: str) -> str:
    """DBOS.set_event, set_event, setEvent -> DBOS.setEvent; a step's own name is kept."""
    bare = name.removeprefix("DBOS.")
    recorded = RECORDED_NAMES.get(bare, bare if bare in RECORDED_NAMES.values() else None)
    return f"DBOS.{recorded}" if recorded else name


@checker
def check_predicted_steps(prediction) -> Feedback:
    if prediction is None:
        return todo()
    names = [str(name).strip() for name in prediction]
    if names != CHECKOUT_STEPS and [_as_recorded(name) for name in names] == CHECKOUT_STEPS:
        return wrong(
            "the right steps in the right order, but not under the names DBOS records: its "
            "own calls appear as 'DBOS.' and the camelCase name of the call, such as "
            "DBOS.setEvent for set_event and DBOS.closeStream for close_stream "
            "(look at the function_name column in the chapter's step lists)."
        )
    if names == CHECKOUT_STEPS:
        return correct(
            "each communication call in the workflow is a step, recv's deadline is a "
            "DBOS.sleep step of its own, and what a step does inside is part of that step."
        )
    names = [_as_recorded(name) for name in names]  # judged on their meaning from here
    if "DBOS.send" in names:
        return wrong(
            "the send came from the notebook, outside the workflow: only calls the workflow "
            "itself makes become its steps."
        )
    if "DBOS.writeStream" in names:
        return wrong(
            "write_stream is called inside the step log_line, so it is part of that step: "
            "DBOS records log_line, not the write."
        )
    if "DBOS.sleep" not in names:
        return wrong(
            "recv with a timeout records two steps: DBOS.recv (the message) and, right after "
            "it, DBOS.sleep (when the wait ends), so a recovered workflow keeps its deadline."
        )
    if names.count("DBOS.setEvent") != 2:
        return wrong(
            "each set_event call from the workflow is a step of its own, even for the same "
            "key: there are two."
        )
    if "DBOS.closeStream" not in names:
        return wrong("close_stream, called from the workflow, is a step too: DBOS.closeStream.")
    if sorted(names) == sorted(CHECKOUT_STEPS):
        return wrong(
            "the right steps, in the wrong order: steps are numbered in the order the workflow "
            "makes its calls, and recv's DBOS.sleep comes right after DBOS.recv."
        )
    return wrong(f"expected {len(CHECKOUT_STEPS)} steps, one per checkpointed call, in order.")
