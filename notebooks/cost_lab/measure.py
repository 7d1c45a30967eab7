"""What chapter 11 measures, and `measure()`, which measures it on one database.

Four functions, as small as possible, so that what is timed is DBOS and not the work:
a plain function, the same function as a step, a workflow that calls the step once, and
a workflow that calls it `steps` times. `measure()` uses DBOS's ordinary sync API, as a
script would: in a notebook, run it on a thread of its own (asyncio.to_thread).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dbos import DBOS, DBOSConfig

from booktools.timing import Samples, writes_for
from .floor import open_floor

STEP_COUNTS = (1, 10, 100)  # steps per workflow, for the growth curve
QUEUE_NAME = "bench"

# --- What is measured ------------------------------------------------------------------


def plain_add(x: int) -> int:
    return x + 1


@DBOS.step()
def add_step(x: int) -> int:
    return x + 1


@DBOS.workflow()
def one_step_workflow(x: int) -> int:
    return add_step(x)


@DBOS.workflow()
def steps_workflow(steps: int) -> int:
    total = 0
    for _ in range(steps):
        total = add_step(total)
    return total


# --- Measuring them ---------------------------------------------------------------


def config_for(url: str) -> DBOSConfig:
    return {
        "name": "dbos-bench",
        "system_database_url": url,
        "application_version": "bench-1",
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.05,
    }


def measure(backend: str, url: str, folder: str | Path, *, rounds: int = 3,
            scale: float = 1.0) -> Costs:
    """Launch DBOS on `url`, measure, destroy DBOS. `folder` holds the SQLite floor's
    file; `scale` multiplies the calls per round (0.3 for a quick run)."""
    n = lambda calls: max(1, round(calls * scale))  # noqa: E731
    DBOS.destroy()  # DBOS runs once per process: this one uses `url`
    DBOS(config=config_for(url))
    DBOS.launch()
    floor = open_floor(url, folder)
    samples = Samples()  # each figure: the median of its samples over all rounds
    try:
        for i in range(5):  # warm up: connection pools, caches, first-call costs
            floor.write(i)
            one_step_workflow(i)
        writes = {steps: writes_for(steps_workflow, steps) for steps in (0, *STEP_COUNTS)}

        # Interleaved rounds, so that a burst of load on the machine hits every figure.
        for _ in range(rounds):
            samples.each_call("floor", floor.write, n(60))
            samples.each_call("workflow", one_step_workflow, n(20))
            for steps in STEP_COUNTS[1:]:  # 3 calls of 10 steps, 1 call of 100 steps
                samples.each_call(f"steps-{steps}", lambda i, s=steps: steps_workflow(s),
                                  n(40 / (steps + 2)))
            samples.in_batches("plain", plain_add, 1000, batches=n(20))

        # Through a queue: enqueue a batch, wait for all of it. The queue exists only
        # now, so that its polling does not weigh on the measurements above.
        queue = DBOS.register_queue(QUEUE_NAME, worker_concurrency=10,
                                    polling_interval_sec=0.01)
        # Warm up: a process notices a new queue within about a second.
        queue.enqueue(one_step_workflow, -1).get_result(polling_interval_sec=0.01)
        batch = n(30)
        for _ in range(rounds):
            with samples.per_operation("queued", batch):
                handles = [queue.enqueue(one_step_workflow, i) for i in range(batch)]
                for handle in handles:
                    handle.get_result(polling_interval_sec=0.01)
        DBOS.delete_queue(QUEUE_NAME)
    finally:
        floor.close()
        DBOS.destroy()
    return Costs.from_samples(backend, samples, writes)


# --- The results -----------------------------------------------------------------


@dataclass
class Costs:
    """Milliseconds per operation on one backend (medians over rounds)."""

    backend: str
    floor_ms: float  # one committed write, straight through the driver
    plain_ms: float  # a plain Python call
    step_ms: float  # one more step in a workflow: (100 steps - 1 step) / 99
    workflow_ms: float  # a one-step workflow, called directly, one after another
    queued_ms: float  # a one-step workflow through a queue: total time / workflows
    steps_ms: dict = field(default_factory=dict)  # steps -> ms per workflow
    # CPU time of the calling thread (DBOS's own Python work; the rest is waiting):
    floor_cpu_ms: float = 0.0
    step_cpu_ms: float = 0.0
    workflow_cpu_ms: float = 0.0
    writes: dict = field(default_factory=dict)  # steps -> committed writes per workflow

    @classmethod
    def from_samples(cls, backend: str, samples: Samples, writes: dict) -> Costs:
        median = samples.median
        steps_ms = {1: median("workflow"),
                    **{s: median(f"steps-{s}") for s in STEP_COUNTS[1:]}}
        last = STEP_COUNTS[-1]
        return cls(
            backend=backend,
            floor_ms=median("floor"),
            plain_ms=median("plain"),
            step_ms=(steps_ms[last] - steps_ms[1]) / (last - 1),
            workflow_ms=median("workflow"),
            queued_ms=median("queued"),
            steps_ms=steps_ms,
            writes=writes,
            floor_cpu_ms=median("floor-cpu"),
            step_cpu_ms=(median(f"steps-{last}-cpu") - median("workflow-cpu"))
            / (last - 1),
            workflow_cpu_ms=median("workflow-cpu"),
        )

    def ratio(self, ms: float) -> float:
        return ms / self.floor_ms

    def per_second(self, ms: float) -> float:
        return 1000 / ms
