"""Chapter 12's checkers: an attribute on the right span, log records stamped with their
workflow, step and attempt, and an idempotency key per step.

Each checker runs the learner's code inside workflows of its own, on a thread of its own (as a
script runs it), under workflow IDs that are new on every call.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from typing import Any

from booktools.exercises import (
    Feedback,
    checker,
    correct,
    is_unchanged_starter,
    off_the_event_loop,
    todo,
    wrong,
)

_run = itertools.count(1)


def _new_id(what: str) -> str:
    return f"ch12-check-{what}-{uuid.uuid4().hex[:8]}-{next(_run)}"


# --- collecting spans: one in-memory exporter of the checker's own, added once ------------

def _span_collector():
    """An InMemorySpanExporter fed by the process's tracer provider, or None if there is no
    SDK provider (the chapter's set-up cell has not run). A provider cannot drop a processor,
    so the exporter is added once per provider (kept on it: a second Run All re-imports this
    module) and cleared before each check."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return None
    exporter = getattr(provider, "_booktools_ch12_check_spans", None)
    if exporter is None:
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        provider._booktools_ch12_check_spans = exporter
    return exporter


NO_TRACING = (
    "DBOS made no span for the workflow: run the chapter's set-up cell, which sets an "
    "OpenTelemetry tracer provider and configures DBOS with \"enable_otlp\": True."
)


# --- exercise 1: the tracking number on the right span -------------------------------------


@checker(needs_dbos=True)
def check_ship(ship) -> Feedback:
    from dbos import SetWorkflowID

    exporter = _span_collector()
    if exporter is None:
        return Feedback("setup", NO_TRACING)
    exporter.clear()
    order_id = _new_id("ship")

    def run() -> Any:
        with SetWorkflowID(order_id):
            return ship(order_id)

    result = off_the_event_loop(run, timeout=30)
    spans = [s for s in exporter.get_finished_spans()
             if (s.attributes or {}).get("operationUUID") == order_id
             or _descends_from(s, exporter.get_finished_spans(), order_id)]
    exporter.clear()
    workflow_spans = [s for s in spans if s.attributes.get("operationType") == "workflow"]
    if not workflow_spans:
        return Feedback("setup", NO_TRACING)
    step_spans = [s for s in spans if s.attributes.get("operationType") == "step"]
    other_spans = [s for s in spans if s.attributes.get("operationType") is None]
    tracking = f"TRK-{order_id}"

    def where(key: str) -> list[str]:
        found = []
        for kind, group in (("workflow", workflow_spans), ("step", step_spans),
                            ("other", other_spans)):
            found += [f"{kind}:{s.name}" for s in group if key in (s.attributes or {})]
        return found

    courier_steps = [s for s in step_spans if s.name == "book_courier"]
    if not courier_steps:
        return wrong(
            f"the workflow ran no step named book_courier (its steps: "
            f"{sorted(s.name for s in step_spans) or 'none'}): call the book_courier step "
            "from ship."
        )
    on_step = courier_steps[0].attributes.get("shop.tracking")
    tracking_at = where("shop.tracking")
    if on_step is None:
        if any(w.startswith("workflow:") for w in tracking_at):
            return wrong(
                "shop.tracking is on the workflow's span (ship), not the step's: DBOS.span "
                "in the workflow's body is the workflow's span. Set it inside book_courier, "
                "where DBOS.span is the step's span."
            )
        if any(w.startswith("other:") for w in tracking_at):
            return wrong(
                "shop.tracking is on a span of its own, a child of the step: set it on the "
                "step's own span, DBOS.span, inside book_courier."
            )
        return wrong("no span carries shop.tracking: set it on book_courier's span with "
                     "DBOS.span.set_attribute(\"shop.tracking\", tracking).")
    if on_step != tracking:
        return wrong(f"book_courier's span has shop.tracking = {on_step!r}; expected the "
                     f"tracking number, {tracking!r}.")
    order_at = where("shop.order_id")
    ship_spans = [s for s in workflow_spans if s.attributes.get("operationUUID") == order_id]
    on_workflow = ship_spans[0].attributes.get("shop.order_id") if ship_spans else None
    if on_workflow is None:
        if any(w.startswith("step:") for w in order_at):
            return wrong(
                "shop.order_id is on a step's span, not the workflow's: set it in ship's own "
                "body, where DBOS.span is the workflow's span."
            )
        return wrong("the workflow's span carries no shop.order_id: set it in ship's body "
                     "with DBOS.span.set_attribute(\"shop.order_id\", order_id).")
    if on_workflow != order_id:
        return wrong(f"the workflow's span has shop.order_id = {on_workflow!r}; expected "
                     f"the order ID, {order_id!r}.")
    if result != tracking:
        return wrong(f"ship returned {result!r}; return the tracking number that "
                     "book_courier returned.")
    return correct("the step's span carries the tracking number and the workflow's span the "
                   "order ID: each fact sits on the span of the code that knows it.")


def _descends_from(span, spans, workflow_id: str) -> bool:
    """True if one of span's ancestors belongs to the workflow (a child span of a step)."""
    by_id = {s.context.span_id: s for s in spans}
    parent = span.parent
    while parent is not None:
        ancestor = by_id.get(parent.span_id)
        if ancestor is None:
            return False
        if (ancestor.attributes or {}).get("operationUUID") == workflow_id:
            return True
        parent = ancestor.parent
    return False


# --- exercise 2: StepContext ----------------------------------------------------------------

_attempts: dict[str, int] = {}


def _step_context_workflow():
    """The checker's workflow, (re)registered on each check: a chapter run again from the top
    destroys DBOS's registry."""
    from dbos import DBOS

    probe = logging.getLogger("booktools.ch12.check")

    @DBOS.step()
    def ch12_check_plain_step() -> None:
        probe.warning("plain step")

    @DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.01,
               backoff_rate=1.0)
    def ch12_check_flaky_step() -> None:
        key = DBOS.workflow_id
        _attempts[key] = _attempts.get(key, 0) + 1
        probe.warning(f"flaky step, call {_attempts[key]}")
        if _attempts[key] < 3:
            raise ConnectionError("the check's flaky step fails twice")

    @DBOS.workflow()
    def ch12_check_logging_workflow() -> None:
        probe.warning("workflow body")
        ch12_check_plain_step()
        ch12_check_flaky_step()

    return ch12_check_logging_workflow


def check_step_context(step_context_class) -> Feedback:
    if step_context_class is ... or is_unchanged_starter(
            getattr(step_context_class, "filter", None)):
        return todo()
    return _check_step_context(step_context_class)


@checker(needs_dbos=True)
def _check_step_context(step_context_class) -> Feedback:
    from dbos import SetWorkflowID

    if not (isinstance(step_context_class, type)
            and issubclass(step_context_class, logging.Filter)):
        return wrong("StepContext should be a class, a subclass of logging.Filter: pass the "
                     "class itself.")
    workflow = _step_context_workflow()
    probe = logging.getLogger("booktools.ch12.check")
    probe.propagate = False
    probe.setLevel(logging.DEBUG)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    workflow_id = _new_id("log")
    raised: list[BaseException] = []

    def run() -> None:
        stamp = step_context_class()
        probe.addFilter(stamp)
        probe.addHandler(keep)
        try:
            probe.warning("outside any workflow")
            with SetWorkflowID(workflow_id):
                workflow()
        except BaseException as exc:  # the learner's filter raised while logging
            raised.append(exc)
        finally:
            probe.removeFilter(stamp)
            probe.removeHandler(keep)

    off_the_event_loop(run, timeout=30)
    if raised:
        exc = raised[0]
        if isinstance(exc, AttributeError) and "NoneType" in str(exc):
            return wrong(
                f"your filter raised {type(exc).__name__}: {exc}. Outside a step "
                "DBOS.step_status is None, and in a step without retries its "
                "current_attempt is None: stamp None there instead of reading further."
            )
        return wrong(f"your filter raised {type(exc).__name__}: {exc}")
    seen = {record.getMessage() for record in records}
    if "outside any workflow" not in seen or "workflow body" not in seen:
        return wrong("records were dropped: filter() must return True (a false value "
                     "drops the record).")

    def stamps(message: str) -> list[tuple]:
        return [(getattr(r, "workflow_id", "missing"), getattr(r, "step_id", "missing"),
                 getattr(r, "attempt", "missing"))
                for r in records if r.getMessage() == message]

    [outside] = stamps("outside any workflow")
    [body] = stamps("workflow body")
    [plain] = stamps("plain step")
    flaky = [stamps(f"flaky step, call {n}")[0] for n in (1, 2, 3)]
    if "missing" in outside + body + plain + tuple(x for f in flaky for x in f):
        return wrong("some records lack workflow_id, step_id or attempt: set all three on "
                     "every record (None where there is nothing to say).")
    if body[0] is None and plain[0] is None:
        return wrong(
            "records logged inside the workflow have workflow_id None: your filter read "
            "DBOS.workflow_id outside the workflow context (in __init__, say, which runs "
            "once, before any workflow). Read it in filter(), which runs as each line is "
            "logged, on the logging thread."
        )
    if body[0] != workflow_id or plain[0] != workflow_id:
        return wrong(f"workflow_id should be the running workflow's ID ({workflow_id!r}); "
                     f"a record from its body got {body[0]!r}.")
    if outside != (None, None, None):
        return wrong(f"a record logged outside any workflow got {outside}: expected "
                     "(None, None, None).")
    if body[1:] != (None, None):
        return wrong(f"the workflow's own line got step_id {body[1]!r}, attempt {body[2]!r}: "
                     "outside a step both are None (DBOS.step_id is None there).")
    if plain[1] != 1:
        return wrong(f"the workflow's first step logged step_id {plain[1]!r}; expected 1, "
                     "DBOS.step_id (or step_status.step_id).")
    if plain[2] is not None:
        return wrong(f"a step without retries got attempt {plain[2]!r}: DBOS counts no "
                     "attempts there (current_attempt is None), so stamp None.")
    attempts = [f[2] for f in flaky]
    if attempts == [0, 1, 2]:
        return wrong("the retried step's attempts were stamped 0, 1, 2: "
                     "step_status.current_attempt counts from 0; stamp it plus 1.")
    if attempts != [1, 2, 3]:
        return wrong(f"the retried step's three attempts were stamped {attempts}; "
                     "expected 1, 2, 3.")
    if [f[1] for f in flaky] != [2, 2, 2]:
        return wrong(f"the second step's attempts got step_id {[f[1] for f in flaky]}; "
                     "expected 2 each time.")
    return correct("every record knows its workflow, step and attempt, read as it is logged; "
                   "outside a step (or a workflow) the stamps are None.")


# --- exercise 3: payment_key ----------------------------------------------------------------

_key_workflows: dict[str, Any] = {}
_key_calls: list[tuple[str, int, int, Any]] = []  # workflow, step, attempt, key


def _key_workflow():
    from dbos import DBOS

    def charge(amount: int) -> None:
        status = DBOS.step_status
        key = _key_workflows["payment_key"]()
        _key_calls.append((DBOS.workflow_id, status.step_id,
                           status.current_attempt or 0, key))
        if amount == 400 and (status.current_attempt or 0) == 0:
            raise TimeoutError("the payment API's answer was lost")

    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0.01)
    def ch12_check_charge_deposit() -> None:
        charge(100)

    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0.01)
    def ch12_check_charge_balance() -> None:
        charge(400)

    @DBOS.workflow()
    def ch12_check_booking() -> None:
        ch12_check_charge_deposit()
        ch12_check_charge_balance()

    return ch12_check_booking


@checker(needs_dbos=True)
def check_payment_key(payment_key) -> Feedback:
    from dbos import SetWorkflowID

    if not callable(payment_key):
        return wrong("payment_key should be a function that returns the key.")
    workflow = _key_workflow()
    _key_workflows["payment_key"] = payment_key
    _key_calls.clear()
    ids = [_new_id("key-a"), _new_id("key-b")]

    def run() -> None:
        for workflow_id in ids:
            with SetWorkflowID(workflow_id):
                workflow()

    off_the_event_loop(run, timeout=30)
    calls = list(_key_calls)
    bad = [key for *_, key in calls if not isinstance(key, str) or not key]
    if bad:
        return wrong(f"payment_key returned {bad[0]!r}: return a non-empty string.")
    by_step: dict[tuple, set] = {}
    for workflow_id, step_id, _, key in calls:
        by_step.setdefault((workflow_id, step_id), set()).add(key)
    if any(len(keys) > 1 for keys in by_step.values()):
        return wrong(
            "the retried step sent a different key on its second attempt, so the API would "
            "charge twice: the key must not change between attempts (no random UUID, time "
            "or attempt number in it). Build it from IDs that DBOS keeps: the workflow's ID "
            "and the step's."
        )
    keys = {k: next(iter(v)) for k, v in by_step.items()}
    for workflow_id in ids:
        mine = [key for (w, _), key in keys.items() if w == workflow_id]
        if len(set(mine)) < len(mine):
            return wrong(
                "both charges in one workflow sent the same key, so the API would take the "
                "second for a repeat of the first and charge only once: the workflow ID "
                "alone is not enough. Add the step's ID (DBOS.step_id)."
            )
    if len(set(keys.values())) < len(keys):
        return wrong(
            "two different workflows sent the same key for their charges, so the second "
            "booking would not be charged: the step ID alone repeats in every workflow. "
            "Add the workflow's ID (DBOS.workflow_id)."
        )
    return correct("one key per step, the same on every attempt: each charge is made once, "
                   "however often its step runs.")
