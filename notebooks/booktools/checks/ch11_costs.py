"""Checkers for chapter 11, What durability costs.

Both run for real against the notebook's launched DBOS and count committed
writes with booktools.timing.count_writes: a count, unlike a time, is the same on
every run and every machine (and on SQLite and Postgres alike). They register no
workflow of their own: check_design_writes runs the workflows of cost_lab.measure,
the lesson's package, which the chapter imports (and shows).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from ..exercises import Feedback, checker, correct, off_the_event_loop, todo, wrong

ROWS = [f"check-row-{n:02}" for n in range(50)]
DESIGN_A = "A: one workflow, ten steps"
DESIGN_B = "B: ten workflows, one step each"


@checker(needs_dbos=True)
def check_batched_import(import_in_one_step, warehouse: str | Path) -> Feedback:
    """The learner's workflow saves 50 rows with one step: every row once, few writes."""
    from dbos import DBOS, SetWorkflowID

    from ..timing import count_writes

    warehouse = Path(warehouse)
    warehouse.write_text("")
    workflow_id = f"check-import-{uuid.uuid4()}"

    def run():
        with SetWorkflowID(workflow_id), count_writes() as counted:
            result = import_in_one_step(list(ROWS))
        if DBOS.get_workflow_status(workflow_id) is None:
            return result, counted["writes"], None  # it ran, but not as a workflow
        return result, counted["writes"], DBOS.list_workflow_steps(workflow_id)

    result, writes, steps = off_the_event_loop(run)
    saved = [line for line in warehouse.read_text().splitlines() if line.strip()]
    if result is None and not saved and not steps:
        return todo()
    if steps is None:
        return wrong(
            "import_in_one_step ran as a plain function, not as a workflow: DBOS "
            "recorded nothing. Decorate it with @DBOS.workflow(), and the function that "
            "saves the rows with @DBOS.step()."
        )

    if len(steps) >= len(ROWS):
        return wrong(
            f"your workflow ran {len(steps)} steps for {len(ROWS)} rows and committed "
            f"{writes} writes: one per step, two for the workflow. Save the whole batch "
            "in one step: a @DBOS.step() that calls store_rows(rows) once."
        )
    if not steps:
        return wrong(
            "your workflow saved the rows without a step, so DBOS recorded nothing about "
            "the saving: after a crash, recovery would run the workflow again and save "
            "every row a second time. Call store_rows(rows) from one @DBOS.step()."
        )
    if sorted(saved) != sorted(ROWS) or len(saved) != len(ROWS):
        duplicated = len(saved) - len(set(saved))
        return wrong(
            f"the warehouse holds {len(saved)} rows ({duplicated} duplicated) for "
            f"{len(ROWS)} rows imported. Save each row once: store_rows(rows) once, "
            "with all the rows."
        )
    if result != len(ROWS):
        return wrong(f"the workflow returned {result!r}; return the number of rows "
                     f"imported, len(rows) ({len(ROWS)}).")
    if len(steps) > 1:
        return wrong(
            f"every row was saved once, with {len(steps)} steps and {writes} committed "
            "writes. The exercise asks for one step: can the batch go in a single call?"
        )
    return correct(
        f"{len(ROWS)} rows saved once each by one step, in {writes} committed writes "
        "(two for the workflow, one for the step), where a step per row needed "
        f"{len(ROWS) + 2}."
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@checker(needs_dbos=True)
def check_design_writes(predicted_writes) -> Feedback:
    """Predicted committed writes of design A (1 workflow x 10 steps) and design B
    (10 workflows x 1 step), checked against counts of real runs."""
    if not isinstance(predicted_writes, dict):
        return wrong(f"predicted_writes should be a dict with the keys {DESIGN_A!r} and "
                     f"{DESIGN_B!r}.")
    if any(value is ... for value in predicted_writes.values()):
        return todo()
    missing = [key for key in (DESIGN_A, DESIGN_B) if key not in predicted_writes]
    if missing:
        return wrong(f"predicted_writes has no key {missing[0]!r}: "
                     "keep the starter's keys.")
    a, b = predicted_writes[DESIGN_A], predicted_writes[DESIGN_B]
    if not (_is_count(a) and _is_count(b)):
        return wrong("each prediction should be a whole number of committed writes.")

    from cost_lab.measure import one_step_workflow, steps_workflow

    from ..timing import count_writes

    def run_both():
        with count_writes() as design_a:
            steps_workflow(10)
        with count_writes() as design_b:
            for order in range(10):
                one_step_workflow(order)
        return design_a["writes"], design_b["writes"]

    real_a, real_b = off_the_event_loop(run_both)
    if (a, b) == (real_a, real_b):
        return correct(
            f"A commits {real_a} writes and B {real_b}: each workflow pays two of its "
            "own (its start and its end) and one per step, so ten workflows pay the two "
            "ten times. A is cheaper."
        )
    if (a, b) == (10, 10):
        return wrong("both designs run ten steps, but a step is not the only thing DBOS "
                     "writes: each workflow also records its start and its end.")
    if a == real_a and b != real_b:
        return wrong(f"A is right ({real_a}). For B, apply the same rule to each of the "
                     "ten one-step workflows.")
    if b == real_b and a != real_a:
        return wrong(f"B is right ({real_b}). For A, one workflow pays its own writes "
                     "once, plus one per step.")
    if a > b:
        return wrong("you predicted that one workflow costs more than ten; count what "
                     "each workflow writes at its start and end, and what each step "
                     "writes.")
    return wrong("not quite. Look again at the counts for 0, 1, 10 and 100 steps in the "
                 "section 'Counting writes': what does a workflow write with no steps at "
                 "all, and what does each step add?")
