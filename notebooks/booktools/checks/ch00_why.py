"""Checkers for chapter 0, Why durable execution."""

from ..exercises import Feedback, checker, correct, todo, wrong

STEPS = ["reserve_stock", "charge_card", "ship_parcel", "send_email", "record_sale"]


@checker
def check_prediction(prediction) -> Feedback:
    """The ledger after killing the DBOS program during charge_card, then restarting it."""
    if prediction is ... or prediction is None:
        return todo()
    lines = [str(line).strip() for line in prediction]
    answer = [f"{step} order-7" for step in STEPS]
    if lines == answer:
        return correct(
            "the killed run finished reserve_stock only; the restart skipped it, "
            "ran charge_card from its start, and went on to the end. Each line once."
        )
    if lines.count("reserve_stock order-7") > 1:
        return wrong(
            "reserve_stock finished before the crash, so DBOS had its result checkpointed: "
            "the restart does not run it again."
        )
    if "charge_card order-7" not in lines:
        return wrong(
            "the crash hit charge_card before it wrote its ledger line, and DBOS has no "
            "checkpoint for it, so the restart runs charge_card again from its start."
        )
    if lines.count("charge_card order-7") > 1:
        return wrong(
            "charge_card was killed before it wrote to the ledger, so only the restart's "
            "run of it appears: once."
        )
    if len(lines) < len(answer):
        return wrong("after the restart the workflow runs to the end: all five steps are in the ledger.")
    return wrong(f"expected one line per step, in order: {answer}")
