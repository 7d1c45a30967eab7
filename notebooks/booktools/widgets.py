"""Interactive views for the notebooks: a workflow inspector and crash controls.

Both are thin ipywidgets layers. The inspector reads the system database through DBOS's own
introspection API (`list_workflows_async`, `list_workflow_steps_async`), on the `DBOS` class or on a
`DBOSClient`; the crash controls start, SIGKILL and restart a `booktools.Worker`.
"""

from __future__ import annotations

import asyncio
import html
import time
from datetime import datetime
from pathlib import Path

import ipywidgets as widgets

from .ledger import read_ledger
from .processes import Worker

ACTIVE = ("PENDING", "ENQUEUED", "DELAYED")
# Statuses are white words on a coloured badge, and errors dark red on pale red: each pair sets
# both colours, so it keeps its contrast (WCAG AA, 4.5:1 and more) on whatever background shows
# the widget: white, JupyterLab's dark theme, the book's dark mode (which puts widgets on grey).
_STATUS_COLOURS = {
    "SUCCESS": "#1a7f37", "ERROR": "#cf222e", "PENDING": "#7d4e00", "ENQUEUED": "#0550ae",
    "CANCELLED": "#57606a", "MAX_RECOVERY_ATTEMPTS_EXCEEDED": "#cf222e", "DELAYED": "#6639ba",
}
_BADGE = "color:#ffffff;background:{};padding:0 4px;border-radius:3px"
_ERROR_TEXT = "color:#a40e26;background:#ffebe9"


def _badge(word: str, colour: str) -> str:
    return f"<b style='{_BADGE.format(colour)}'>{html.escape(word)}</b>"
_TABLE_STYLE = "border-collapse:collapse;font-size:0.85em;font-family:monospace"
_CELL = "padding:2px 8px;border-bottom:1px solid #d0d7de;text-align:left"


def _clock(epoch_ms) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000).strftime("%H:%M:%S.%f")[:-3] if epoch_ms else ""


def _short(value, width=60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers, rows) -> str:
    head = "".join(f"<th style='{_CELL}'>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='{_CELL}'>{cell}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table style='{_TABLE_STYLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class WorkflowInspector:
    """The workflows in a system database and, for the selected one, its steps.

    `WorkflowInspector(DBOS)` inspects the database of the launched DBOS app in this kernel;
    `WorkflowInspector(client)` one a `DBOSClient` points at (for workflows run by other processes).
    Refresh with the button, `await inspector.refresh()`, or `inspector.auto_refresh()`.
    """

    def __init__(self, source, *, limit: int = 25, **filters):
        # filters: any keyword of list_workflows_async, e.g. name=..., application_name=...
        self.source, self.limit, self.filters = source, limit, filters
        self.workflows: list = []
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.auto_toggle = widgets.ToggleButton(description="Auto-refresh", value=False)
        self.summary = widgets.HTML()
        self.table = widgets.HTML()
        self.selector = widgets.Dropdown(description="Steps of", options=[], layout={"width": "70%"})
        self.steps = widgets.HTML()
        self.refresh_button.on_click(lambda _: self._schedule(self.refresh()))
        self.auto_toggle.observe(self._on_auto_toggle, names="value")
        self.selector.observe(lambda change: self._schedule(self.show_steps(change["new"])), names="value")
        self.widget = widgets.VBox([
            widgets.HBox([self.refresh_button, self.auto_toggle, self.summary]),
            self.table, self.selector, self.steps,
        ])
        self._auto_task: asyncio.Task | None = None

    # What a notebook shows: the widget, with a short, stable text form for plain-text viewers.
    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"WorkflowInspector({len(self.workflows)} workflows)"
        return bundle

    def _schedule(self, coroutine):
        """Run a control's work on the event loop. A failure is shown in the widget: an exception
        in a task would vanish, and Refresh would seem to do nothing."""
        task = asyncio.ensure_future(coroutine)
        task.add_done_callback(self._show_failure)
        return task

    def _show_failure(self, task: asyncio.Future) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        message = f"{type(error).__name__}: {error}"
        if "No DBOS was created" in str(error) or "not launched" in str(error):
            message = "DBOS is not running in this kernel: run the chapter's set-up cells, then Refresh"
        self.summary.value = f"<b>Refresh failed</b>: {html.escape(message)}"

    async def refresh(self) -> None:
        self.workflows = await self.source.list_workflows_async(
            limit=self.limit, sort_desc=True, **self.filters
        )
        rows = []
        now_ms = time.time() * 1000
        for w in self.workflows:
            end = w.updated_at if w.status not in ACTIVE else now_ms
            duration = f"{(end - w.created_at) / 1000:.2f} s" if w.created_at else ""
            colour = _STATUS_COLOURS.get(w.status, "#57606a")
            rows.append([
                html.escape(w.workflow_id), html.escape(w.name),
                _badge(w.status, colour),
                html.escape(w.queue_name or ""), _clock(w.created_at), duration,
            ])
        self.table.value = _table(["workflow id", "name", "status", "queue", "started", "duration"], rows)
        counts: dict[str, int] = {}
        for w in self.workflows:
            counts[w.status] = counts.get(w.status, 0) + 1
        self.summary.value = " · ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no workflows"
        ids = [w.workflow_id for w in self.workflows]
        keep = self.selector.value if self.selector.value in ids else (ids[0] if ids else None)
        self.selector.options = [(f"{w.workflow_id}  ({w.name})", w.workflow_id) for w in self.workflows]
        self.selector.value = keep
        if keep is not None:
            await self.show_steps(keep)
        else:
            self.steps.value = ""

    async def show_steps(self, workflow_id) -> None:
        if workflow_id is None:
            return
        steps = await self.source.list_workflow_steps_async(workflow_id)
        if workflow_id != self.selector.value:
            return  # another workflow was chosen while these steps were read: it shows its own
        rows = []
        for s in steps:
            outcome = (
                f"<span style='{_ERROR_TEXT}'>{html.escape(_short(s['error']))}</span>"
                if s["error"] is not None else html.escape(_short(s["output"]))
            )
            start, end = s.get("started_at_epoch_ms"), s.get("completed_at_epoch_ms")
            took = f"{(end - start) / 1000:.2f} s" if start and end else "running" if start else ""
            rows.append([str(s["function_id"]), html.escape(s["function_name"]), outcome, took])
        self.steps.value = _table(["#", "step", "output or error", "took"], rows) if rows else "<i>no steps yet</i>"

    @property
    def auto_refreshing(self) -> bool:
        return self._auto_task is not None and not self._auto_task.done()

    def _on_auto_toggle(self, change) -> None:
        # The toggle also follows the timer's own start and stop: act only on a real change.
        if change["new"] and not self.auto_refreshing:
            self.auto_refresh()
        elif not change["new"] and self.auto_refreshing:
            self.stop_auto_refresh()

    def auto_refresh(self, every: float = 0.5, until_idle: bool = True) -> asyncio.Task:
        """Refresh on a timer; with until_idle, stop once no workflow is pending or enqueued."""
        self.stop_auto_refresh()

        async def loop():
            try:
                while True:
                    await self.refresh()
                    if until_idle and not any(w.status in ACTIVE for w in self.workflows):
                        break
                    await asyncio.sleep(every)
            finally:
                self._auto_task = None
                self.auto_toggle.value = False

        task = self._auto_task = asyncio.ensure_future(loop())
        self.auto_toggle.value = True
        return task

    def stop_auto_refresh(self) -> None:
        if self.auto_refreshing:
            self._auto_task.cancel()


class CrashControls:
    """Start, kill (SIGKILL) and restart a worker script; shows its output and a ledger.

    Clicking a button does what `worker.start()`, `worker.kill()` and `worker.restart()` do;
    the view then refreshes (and so does the inspector, if one is given).
    """

    def __init__(self, worker: Worker, *, ledger: str | Path | None = None,
                 inspector: WorkflowInspector | None = None, ready_line: str | None = None):
        self.worker, self.ledger, self.inspector, self.ready_line = worker, ledger, inspector, ready_line
        self.start_button = widgets.Button(description="Start", icon="play", button_style="success")
        self.kill_button = widgets.Button(description="Kill (SIGKILL)", icon="bolt", button_style="danger")
        self.restart_button = widgets.Button(description="Restart", icon="repeat", button_style="warning")
        self.status = widgets.HTML()
        self.output = widgets.HTML()
        self.events: list[str] = []
        self.start_button.on_click(lambda _: self._act("started", self.worker.start))
        self.kill_button.on_click(lambda _: self._act("killed with SIGKILL", self.worker.kill))
        self.restart_button.on_click(lambda _: self._act("restarted", self.worker.restart))
        self.widget = widgets.VBox([
            widgets.HBox([self.start_button, self.kill_button, self.restart_button, self.status]),
            self.output,
        ])
        self.update()

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"CrashControls({Path(str(self.worker.script)).name})"
        return bundle

    def _act(self, event: str, action) -> None:
        if action == self.worker.start and self.worker.running:
            event = "already running"
        else:
            action()
            if self.ready_line and self.worker.running:
                self.worker.wait_for(self.ready_line)
        self.events.append(event)
        self.update()
        if self.inspector is not None:
            self.inspector._schedule(self.inspector.refresh())

    def update(self) -> None:
        running = self.worker.running
        self.status.value = (
            _badge("running", _STATUS_COLOURS["SUCCESS"]) if running
            else _badge("stopped", _STATUS_COLOURS["CANCELLED"])
        )
        self.start_button.disabled = running
        self.kill_button.disabled = not running
        log = "\n".join(self.worker.lines[-12:])
        parts = [f"<b>worker output</b> (last lines)<pre>{html.escape(log)}</pre>"]
        if self.ledger is not None:
            lines = read_ledger(self.ledger)
            parts.append(f"<b>ledger</b> ({len(lines)} lines)<pre>{html.escape(chr(10).join(lines))}</pre>")
        self.output.value = "".join(parts)
