"""Write book/api_index.md: every public name of the installed dbos, and the section that runs it.

    .venv/bin/python scripts/api_index.py          (after a DBOS upgrade, or a new chapter)

The names: the module's `__all__`, and the public attributes of `DBOS`, `DBOSClient`,
`WorkflowHandle` and `Queue`; an `_async` twin counts with its sync name. Each name is linked to
the first section (in book order) whose code cells use it, found the way tests/test_api_index.py
checks it; a name no cell uses needs a line in LEFT_OUT saying why the book leaves it out. A new
name with neither stops the script and says so.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import dbos
from dbos import DBOS, DBOSClient, Queue, WorkflowHandle

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "api_index.md"
CLASSES = {"DBOS": DBOS, "DBOSClient": DBOSClient, "WorkflowHandle": WorkflowHandle,
           "Queue": Queue}
LABEL = re.compile(r"^\(((ch\d\d)-[\w-]+)\)=\s*$", re.M)
# Sections that try many calls at once to show where they work, not to teach them: a name is
# linked to the section that teaches it.
SURVEYS = {"ch01-in-a-cell"}

# Why the book does not run a name. One line each; say what to use instead where there is one.
LEFT_OUT = {
    # the module
    "AsyncSQLAlchemyDatasource": "an async datasource needs an async driver (`aiosqlite` for "
    "SQLite), which the book does not install; chapter 3 runs the sync `SQLAlchemyDatasource`",
    "ClientScheduleInput": "a type: the dictionaries `DBOSClient.apply_schedules` takes",
    "DBOSContextEnsure": "an internal context manager, exported for libraries built on DBOS",
    "DBOSPortableJSONSerializer": "the serializer behind portable serialization, which chapter 9 "
    "selects per workflow with `WorkflowSerializationFormat.PORTABLE`",
    "DebouncerClient": "a `Debouncer` for programs that have only a `DBOSClient`; chapter 7 runs "
    "`Debouncer`",
    "DuplicationPolicy": "a type: the values of `EnqueueOptions['duplication_policy']`",
    "KafkaMessage": "what a Kafka consumer workflow receives: see `DBOS.kafka_consumer`",
    "make_pydantic_args_validator": "builds what `pydantic_args_validator` (chapter 13) stands "
    "for",
    "ScheduleInput": "a type: the dictionaries `DBOS.apply_schedules` takes (chapter 9)",
    "Serializer": "the base class of a custom serializer; the book keeps DBOS's default, and "
    "chapter 9 shows the portable one",
    "SetShardKey": "sharded system databases need dbos-enterprise",
    "StepInfo": "a type: what `list_workflow_steps` returns, read as a dictionary from chapter 9 on",
    "StepOptions": "a type: the options of `DBOS.run_step`, which chapter 3 passes as keywords",
    "StepReservation": "what `DBOS.reserve_step` returns, a tool for libraries built on DBOS",
    "VersionInfo": "a type: what `list_application_versions` returns (chapter 6 reads its "
    "`version_name`)",
    "WorkflowHandle": "a type: what `start_workflow`, `enqueue` and `retrieve_workflow` return, "
    "used throughout; its methods are below",
    "WorkflowHandleAsync": "a type: the handle the `_async` calls return, used throughout",
    "WorkflowIDReusePolicy": "a type: the values of `EnqueueOptions['workflow_id_reuse_policy']` "
    "(chapter 6 passes `\"reject\"`)",
    "WorkflowSchedule": "a type: what `list_schedules` returns (chapter 9 reads it)",
    "WorkflowStatus": "a type: what `list_workflows` and `get_workflow_status` return; chapter 9 "
    "reads its fields",
    "WorkflowStatusString": "a type: the status names, which the book writes as strings",
    # DBOS
    "DBOS.alert_handler": "receives alerts from DBOS Conductor, a hosted service the book does "
    "not use",
    "DBOS.asyncio_wait": "`asyncio.wait` for async workflows, recorded as a step; the book waits "
    "for several workflows with handles or `wait_first`",
    "DBOS.default_required_roles": "the class-wide form of `required_roles` (chapter 13), for a "
    "`@DBOS.dbos_class`",
    "DBOS.deprecate_patch": "the second of the three deploys that remove a patch, described in "
    "chapter 9's text",
    "DBOS.get_result": "waits for a workflow's result by ID; the book gets results from handles",
    "DBOS.kafka_consumer": "needs a Kafka broker, which the book's set-up does not install: "
    "chapter 13 shows the code's shape only",
    "DBOS.list_application_versions": "named in chapter 9; chapter 6 runs the client's",
    "DBOS.reserve_step": "reserves a step number for work recorded by hand, a tool for libraries "
    "built on DBOS",
    "DBOS.resume_schedule": "the other half of `pause_schedule`",
    "DBOS.set_authentication": "sets the caller's identity on the current context, as "
    "`DBOSContextSetAuth` (chapter 13) does for a block",
    "DBOS.set_latest_application_version": "named in chapter 9; chapter 6's roll-back exercise "
    "runs the client's",
    "DBOS.shard_key": "sharded system databases need dbos-enterprise",
    # DBOSClient: the same calls as DBOS's, from a program with no workflows
    "DBOSClient.apply_schedules": "schedules from a client, by workflow name: as `DBOS`'s "
    "(chapter 9)",
    "DBOSClient.backfill_schedule": "as `DBOS.backfill_schedule`, from a client",
    "DBOSClient.cancel_workflows": "as `DBOS.cancel_workflows` (chapter 13), from a client",
    "DBOSClient.check_connection": "only for a client created with `lazy=True`; the book's "
    "clients connect when created",
    "DBOSClient.create_schedule": "schedules from a client, by workflow name: as `DBOS`'s "
    "(chapter 9)",
    "DBOSClient.delete_queue": "as `DBOS.delete_queue`, from a client",
    "DBOSClient.delete_schedule": "as `DBOS.delete_schedule` (chapter 9), from a client",
    "DBOSClient.delete_workflow": "as `DBOS.delete_workflow` (chapter 13), from a client",
    "DBOSClient.delete_workflows": "as `DBOS.delete_workflows` (chapter 13), from a client",
    "DBOSClient.fork_workflow": "as `DBOS.fork_workflow` (chapter 9), from a client",
    "DBOSClient.get_schedule": "as `DBOS.get_schedule`, from a client",
    "DBOSClient.list_schedules": "as `DBOS.list_schedules` (chapter 9), from a client",
    "DBOSClient.pause_schedule": "as `DBOS.pause_schedule`, from a client",
    "DBOSClient.read_stream_offset": "as `DBOS.read_stream_offset`, from a client",
    "DBOSClient.register_queue": "as `DBOS.register_queue` (chapter 4), from a client",
    "DBOSClient.rename_application": "re-owns the rows of a renamed application; chapter 13 names "
    "its CLI form, `dbos rename-application`",
    "DBOSClient.resume_schedule": "as `DBOS.resume_schedule`, from a client",
    "DBOSClient.resume_workflow": "as `DBOS.resume_workflow` (chapter 9); chapter 13 runs the "
    "client's `resume_workflows`",
    "DBOSClient.retrieve_queue": "as `DBOS.retrieve_queue` (chapter 13), from a client",
    "DBOSClient.rewind_workflow": "as `DBOS.rewind_workflow` (chapter 13), from a client",
    "DBOSClient.send_bulk": "as `DBOS.send_bulk` (chapter 13), from a client",
    "DBOSClient.send_bulk_in_transaction": "as `send_in_transaction` (chapter 13), for a list of "
    "`SendMessage`s",
    "DBOSClient.set_workflow_delay": "as `DBOS.set_workflow_delay` (chapter 13), from a client",
    "DBOSClient.trigger_schedule": "as `DBOS.trigger_schedule` (chapter 9), from a client",
    "DBOSClient.update_workflow_attributes": "as `DBOS.update_workflow_attributes` (chapter 9), "
    "from a client",
    "DBOSClient.wait_first": "as `DBOS.wait_first` (chapter 13), from a client",
    # Queue
    "Queue.concurrency": "deprecated: `global_concurrency`",
    "Queue.get_concurrency": "deprecated: `get_global_concurrency`",
    "Queue.set_concurrency": "deprecated: `set_global_concurrency`",
    "Queue.get_partition_concurrency": "reads what chapter 9 prints as `partition_concurrency`",
    "Queue.set_partition_concurrency": "changes a partitioned queue's limit, as chapter 13 "
    "changes the others",
    "Queue.get_partition_limiter": "a per-partition rate limit, a refinement of chapter 4's "
    "partitioned queues",
    "Queue.partition_limiter": "as `Queue.get_partition_limiter`",
    "Queue.set_partition_limiter": "as `Queue.get_partition_limiter`",
    "Queue.get_partition_worker_concurrency": "a per-process limit within each partition, a "
    "refinement of chapter 4's partitioned queues",
    "Queue.partition_worker_concurrency": "as `Queue.get_partition_worker_concurrency`",
    "Queue.set_partition_worker_concurrency": "as `Queue.get_partition_worker_concurrency`",
    "Queue.global_concurrency": "the property form of `get_global_concurrency` (chapter 13); in "
    "a cell it blocks the event loop and warns, so the book awaits the getter",
    "Queue.limiter": "the property form of `get_limiter` (chapter 13), as `global_concurrency`",
    "Queue.polling_interval_sec": "the property form of `get_polling_interval_sec` (chapter 13), "
    "as `global_concurrency`",
    "Queue.worker_concurrency": "the property form of `get_worker_concurrency` (chapter 13), as "
    "`global_concurrency`",
    "Queue.set_polling_interval_sec": "changes a queue's poll as chapter 13 changes its limits; "
    "the book keeps every queue at 0.1 s",
}


def public_names() -> list[str]:
    names = set()
    for name in dbos.__all__:
        names.add(name.removesuffix("_async"))
    for owner, cls in CLASSES.items():
        for attr in dir(cls):
            if not attr.startswith("_"):
                names.add(f"{owner}.{attr.removesuffix('_async')}")
    return sorted(names, key=lambda n: (n.count("."), n.lower()))


def pattern(name: str) -> re.Pattern:
    """How a code cell uses the name: the module's names as words, DBOS's through `DBOS.`,
    the others' as attributes of some object (a client, a handle, a queue), not of DBOS."""
    if "." not in name:  # `error`, the module, is also everyone's variable: `error.` or aliased
        used = r"(?=\s+as\s|\.)" if name == "error" else ""
        return re.compile(rf"\b{re.escape(name)}\b{used}")
    owner, attr = name.split(".")
    if owner == "DBOS":
        return re.compile(rf"\bDBOS\.{re.escape(attr)}(_async)?\b")
    return re.compile(rf"(?<!\bDBOS)\.{re.escape(attr)}(_async)?\b")


def sections(notebook: Path) -> list[tuple[str, str, str]]:
    """(label, title, code) for each labelled section of a notebook, in order. A section runs
    from the cell holding its label to the next cell holding a label."""
    found: list[tuple[str, str, list[str]]] = []
    for cell in json.loads(notebook.read_text())["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            for match in LABEL.finditer(text):
                after = text[match.end():].lstrip("\n").splitlines()
                title = after[0].lstrip("#").strip() if after else match.group(1)
                found.append((match.group(1), title.replace("`", ""), []))
        elif found:
            found[-1][2].append(text)
    return [(label, title, "\n".join(code)) for label, title, code in found]


def where_run(notebooks: list[Path]) -> dict[str, tuple[str, str, str]]:
    """Each name's first section (label, chapter number, section title) that uses it."""
    index = [(nb.name[:2], label, title, code) for nb in notebooks
             for label, title, code in sections(nb) if label not in SURVEYS]
    found = {}
    for name in public_names():
        for chapter, label, title, code in index:
            if pattern(name).search(code):
                found[name] = (label, str(int(chapter)), title)
                break
    return found


def render(names: list[str], run: dict, version: str) -> str:
    left = [n for n in names if n not in run]
    lines = [
        "# API index",
        "",
        f"Every public name of the installed `dbos` ({version}): the module's `__all__`, and the",
        "public attributes of `DBOS`, `DBOSClient`, `WorkflowHandle` and `Queue`, an `_async` twin",
        "counted with its sync name. Each name links to the section of the book whose code runs",
        "it, or says in one line why the book leaves it out. `tests/test_api_index.py` builds the",
        "same list from the installed package and checks every line of this page against the",
        "chapters, so a DBOS upgrade shows here what is new; `scripts/api_index.py` rewrites it.",
        "",
        f"**{len(names)} names: {len(names) - len(left)} run by a cell "
        f"({round(100 * (len(names) - len(left)) / len(names))} %), {len(left)} left out.**",
    ]
    groups = [("The module: `from dbos import ...`", lambda n: "." not in n)]
    groups += [(f"`{owner}`", lambda n, o=owner: n.startswith(o + "."))
               for owner in CLASSES]
    for heading, member in groups:
        lines += ["", f"## {heading}", "", "| name | where a cell runs it |", "|---|---|"]
        for name in (n for n in names if member(n)):
            if name in run:
                label, chapter, title = run[name]
                where = f"{{ref}}`chapter {chapter}, {title} <{label}>`"
            else:
                where = f"left out: {LEFT_OUT[name]}"
            lines.append(f"| `{name}` | {where} |")
    return "\n".join(lines) + "\n"


def book_chapters() -> list[Path]:
    """The chapters _toc.yml lists, in book order."""
    toc = (ROOT / "_toc.yml").read_text()
    return [ROOT / f"{name}.ipynb" for name in re.findall(r"file: (notebooks/\w+)", toc)]


def main(skip: tuple[str, ...] = ()) -> None:
    notebooks = [nb for nb in book_chapters() if nb.stem not in skip]
    names = public_names()
    run = where_run(notebooks)
    unexplained = [n for n in names if n not in run and n not in LEFT_OUT]
    if unexplained:
        sys.exit(f"no cell runs these, and LEFT_OUT says nothing about them: {unexplained}")
    PAGE.write_text(render(names, run, dbos.__version__ if hasattr(dbos, "__version__")
                           else _installed_version()))
    print(f"{PAGE.relative_to(ROOT)}: {len(names)} names, {len(run)} run by a cell, "
          f"{len(names) - len(run)} left out")


def _installed_version() -> str:
    from importlib.metadata import version

    return version("dbos")


if __name__ == "__main__":
    main(skip=tuple(sys.argv[1:]))  # chapter stems to leave out, e.g. one not committed yet
