"""Checkers for chapter 4, Queues.

Both checkers use the learner's answer for real, against the notebook's launched
DBOS: the first registers a queue with the learner's options and reads back what
DBOS stored (then deletes it); the second clicks "refresh" through the learner's
function, on a thread of its own as a web server would, and looks at the workflows
it got back.
"""

from __future__ import annotations

import math
import uuid

from ..exercises import (
    Feedback, checker, correct, off_the_event_loop, wrong, wrong_kind_of_function, wrong_shape,
)

MAIL_QUEUE = "ex04-mail-check"
REGISTER_QUEUE_ARGUMENTS = {
    "worker_concurrency", "global_concurrency", "limiter", "polling_interval_sec",
    "partition_concurrency", "partition_worker_concurrency", "partition_limiter",
    "on_conflict", "concurrency",
}


PROVIDER_LIMIT, PROVIDER_PERIOD = 5, 2  # messages per seconds, for the whole account
# A limiter that uses less than this share of the provider's rate is stricter than needed;
# a margin such as period 2.5 (the chapter's rate-limiting section advises one) stays above it.
ENOUGH_OF_THE_RATE = 0.75


def _most_in_a_window(limit: int, period: float) -> int:
    """The most starts a limiter lets into one provider window: DBOS counts starts over a
    rolling `period`, so a shorter period lets a window hold several periods' worth."""
    return limit * math.ceil(PROVIDER_PERIOD / period - 1e-9)


@checker(needs_dbos=True)
def check_mail_queue_options(options) -> Feedback:
    """Keyword arguments for register_queue: 2 connections per process, 5 sends per 2 s."""
    if not isinstance(options, dict):
        return wrong("mail_queue_options should be a dict of keyword arguments, "
                     'like {"worker_concurrency": ...}.')
    if "concurrency" in options:
        return wrong("`concurrency` is the deprecated name of `global_concurrency`, a limit "
                     "for all processes together. Which limit is per process?")
    unknown = sorted(set(options) - REGISTER_QUEUE_ARGUMENTS)
    if unknown:
        return wrong(f"register_queue has no argument {unknown[0]!r}. Its limits are "
                     "worker_concurrency, global_concurrency and limiter.")
    limiter = options.get("limiter")
    if limiter is not None and (not isinstance(limiter, dict)
                                or set(limiter) != {"limit", "period"}):
        return wrong('limiter is a dict with exactly two keys: {"limit": <starts>, '
                     '"period": <seconds>}.')

    from dbos import DBOS

    def register_and_read_back():
        DBOS.register_queue(MAIL_QUEUE, on_conflict="always_update", **options)
        try:
            queue = DBOS.retrieve_queue(MAIL_QUEUE)
            return {
                "worker_concurrency": queue.worker_concurrency,
                "global_concurrency": queue.global_concurrency,
                "limiter": queue.limiter,
                "polling_interval_sec": queue.polling_interval_sec,
            }
        finally:
            DBOS.delete_queue(MAIL_QUEUE)

    try:
        stored = off_the_event_loop(register_and_read_back)
    except ValueError as error:
        return wrong(f"DBOS refused these options: {error}")

    per_process, in_total = stored["worker_concurrency"], stored["global_concurrency"]
    if per_process is None and in_total is not None:
        return wrong(f"global_concurrency={in_total} caps all processes together, so the "
                     "processes would share 2 connections. The connection limit holds in "
                     "each process: that is worker_concurrency.")
    if per_process is None:
        return wrong("nothing limits how many mails one process sends at once: each process "
                     "may hold only 2 connections, so set worker_concurrency.")
    if per_process > 2:
        return wrong(f"worker_concurrency={per_process} lets one process open "
                     f"{per_process} connections; the limit is 2.")
    if per_process < 2:
        return wrong(f"worker_concurrency={per_process} is safe but stricter than needed: "
                     "each process may use 2 connections.")
    if in_total is not None:
        return wrong(f"global_concurrency={in_total} is not asked for: it would cap all "
                     "processes together, and the provider limits the rate, not the "
                     "number of mails in flight.")
    rate = stored["limiter"]
    if rate is None:
        return wrong("the provider's 5 messages per 2 seconds is a rate: add a limiter.")
    limit, period = rate["limit"], rate["period"]
    if (limit, period) == (2, 5):
        return wrong('limit and period are swapped: limit is the number of starts (5), '
                     'period the window in seconds (2).')
    if period < PROVIDER_PERIOD and _most_in_a_window(limit, period) > PROVIDER_LIMIT:
        return wrong(f"period is the window in seconds: {limit} per {period} s lets "
                     f"{_most_in_a_window(limit, period)} starts into one 2-second window "
                     "of the provider's. Count over the provider's own window: period 2 "
                     "(or a little more, as a margin).")
    if limit > PROVIDER_LIMIT:
        return wrong(f"{limit} per {period} s lets {limit} mails start at once, more than the "
                     "5 the provider accepts in 2 seconds: limit is at most 5.")
    if limit / period < ENOUGH_OF_THE_RATE * PROVIDER_LIMIT / PROVIDER_PERIOD:
        return wrong(f"{limit} per {period} s stays under the provider's limit but wastes "
                     "much of it: a small margin is fine (5 per 2.5 s), this is more.")
    if stored["polling_interval_sec"] != 0.1:
        return wrong(f"the queue is polled every {stored['polling_interval_sec']} s; set "
                     "polling_interval_sec=0.1.")
    return correct(f"2 at a time in each process, however many processes run, and never more "
                   f"than {limit} starts per {period:g} seconds across all of them: the limiter "
                   "counts the queue's starts in the database, for every process.")


@checker(needs_dbos=True)
def check_submit_refresh(submit_refresh) -> Feedback:
    """Deduplicate the batch's refreshes per account, returning the existing workflow, and
    keep them behind users' clicks (enqueued without a priority)."""
    from dbos import DBOS
    from dbos import error as dbos_errors

    kind = wrong_kind_of_function(submit_refresh, expected="sync", name="submit_refresh")
    if kind:
        return kind
    run = uuid.uuid4().hex[:6]  # fresh account names, so every check starts clean
    account, other_account = f"acct-{run}-a", f"acct-{run}-b"

    def click_twice_then_once_more():
        first = submit_refresh(account)
        shape = wrong_shape(first, expected="handle", call="submit_refresh()")
        if shape:
            return shape
        status = DBOS.get_workflow_status(first.workflow_id)
        try:
            second = submit_refresh(account)
        except dbos_errors.DBOSQueueDeduplicatedError:
            first.get_result(polling_interval_sec=0.05)
            return "deduplicated"
        other = submit_refresh(other_account)
        for handle in (first, second, other):
            handle.get_result(polling_interval_sec=0.05)
        later = submit_refresh(account)
        later.get_result(polling_interval_sec=0.05)
        return status, first, second, other, later

    outcome = off_the_event_loop(click_twice_then_once_more, timeout=30)
    if isinstance(outcome, Feedback):  # the wrong shape, named
        return outcome
    if outcome == "deduplicated":
        return wrong("the second call raised DBOSQueueDeduplicatedError. The deduplication "
                     "ID works; now make the second call get the existing refresh: "
                     'duplication_policy="return-existing".')
    status, first, second, other, later = outcome
    if status.queue_name != "refresh":
        where = f"the {status.queue_name!r} queue" if status.queue_name else "no queue"
        return wrong(f"the refresh went to {where}; enqueue it on the 'refresh' queue.")
    if not status.name.endswith("refresh_account"):
        return wrong(f"the queued workflow is {status.name}, not refresh_account.")
    if first.workflow_id != second.workflow_id:
        return wrong("two calls for the same account started two refreshes. Give the "
                     "enqueue a deduplication_id that names the account.")
    if other.workflow_id == first.workflow_id:
        return wrong("a call for another account got the first account's refresh: the "
                     "deduplication ID must differ per account (use the account ID).")
    if later.workflow_id == first.workflow_id:
        return wrong("a call after the refresh had finished returned the old refresh. A "
                     "workflow ID names a workflow forever; a deduplication ID is released "
                     "when its workflow finishes. Use deduplication_id, not SetWorkflowID.")
    if not status.priority:
        return wrong("the batch's refresh has no priority, so it counts as 0, the highest: a "
                     "user's click, also enqueued without one, waits behind every batch refresh "
                     "enqueued before it (first in, first out). Give the batch's enqueue a "
                     "priority of 1 or more: lower runs first.")
    return correct(f"one refresh per account at a time, a second call joins it, other "
                   f"accounts run independently, a later call refreshes again, and with "
                   f"priority {status.priority} the batch's refreshes let users' clicks "
                   "(priority 0) go first.")
