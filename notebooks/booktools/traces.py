"""Traces: OpenTelemetry spans as plain records, an OTLP/HTTP receiver, and a waterfall plot.

Chapter 12 collects the spans DBOS makes in two ways, both with the OpenTelemetry SDK's own
exporters: in memory (`InMemorySpanExporter`) for the notebook's process, and over OTLP/HTTP
from child processes to `OtlpReceiver`, a tiny collector on 127.0.0.1 that decodes the
protobuf payload with the `opentelemetry-proto` package. Both kinds become `SpanRecord`s, which
`span_tree` prints and `plot_waterfall` draws: one bar per span, children under their parent.

Nothing here talks to DBOS: the chapter makes every DBOS call itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable, Optional, Sequence


@dataclass(frozen=True)
class SpanRecord:
    """One finished span: what a trace viewer shows in a row."""

    name: str
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_id: Optional[str]  # None for the root of a trace
    start: float  # seconds since the epoch
    end: float
    attributes: dict = field(default_factory=dict)
    events: tuple = ()  # (name, seconds since the epoch)
    status: str = "UNSET"  # "OK", "ERROR" or "UNSET"
    service: str = ""  # the resource's service.name

    @property
    def kind(self) -> str:
        """'workflow' or 'step' for DBOS's spans (their operationType), else 'other'."""
        return self.attributes.get("operationType") or "other"


def from_sdk(spans: Iterable) -> list[SpanRecord]:
    """SpanRecords from the SDK's ReadableSpans (what InMemorySpanExporter holds)."""
    records = []
    for s in spans:
        parent = s.parent.span_id if s.parent is not None else None
        records.append(SpanRecord(
            name=s.name,
            trace_id=f"{s.context.trace_id:032x}",
            span_id=f"{s.context.span_id:016x}",
            parent_id=f"{parent:016x}" if parent else None,
            start=s.start_time / 1e9,
            end=s.end_time / 1e9,
            attributes=dict(s.attributes or {}),
            events=tuple((e.name, e.timestamp / 1e9) for e in s.events),
            status=s.status.status_code.name,
            service=str(s.resource.attributes.get("service.name", "")),
        ))
    return records


def _any_value(value) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class OtlpReceiver:
    """An OTLP/HTTP trace receiver on 127.0.0.1 (a free port), in a thread of this process.

    Point an exporter at `url` (OTLPSpanExporter(endpoint=url), or DBOS's
    `otlp_traces_endpoints`); `spans` holds what arrived, as SpanRecords. `stop()` closes the
    port. Use it as a context manager, or call stop() yourself.
    """

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        self.spans: list[SpanRecord] = []
        self.requests = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest.FromString(body)
                with lock:
                    receiver.requests += 1
                    receiver.spans.extend(_decode(request))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:  # keep the cell's output clean
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                receiver.errors += 1  # a sender killed mid-request: counted, not printed

        self.errors = 0
        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}/v1/traces"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            daemon=True, name="otlp-receiver",
        )
        self._thread.start()

    def wait_for(self, condition: Callable[[list[SpanRecord]], bool],
                 timeout: float = 10) -> bool:
        """Wait until condition(spans) is true; False if `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        while not condition(list(self.spans)):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> "OtlpReceiver":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _decode(request) -> list[SpanRecord]:
    records = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _any_value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                records.append(SpanRecord(
                    name=s.name,
                    trace_id=s.trace_id.hex(),
                    span_id=s.span_id.hex(),
                    parent_id=s.parent_span_id.hex() or None,
                    start=s.start_time_unix_nano / 1e9,
                    end=s.end_time_unix_nano / 1e9,
                    attributes={a.key: _any_value(a.value) for a in s.attributes},
                    events=tuple((e.name, e.time_unix_nano / 1e9) for e in s.events),
                    status={0: "UNSET", 1: "OK", 2: "ERROR"}[s.status.code],
                    service=str(resource.get("service.name", "")),
                ))
    return records


# --- reading a trace -------------------------------------------------------------------------


def _rows(spans: Sequence[SpanRecord]) -> list[tuple[int, Optional[SpanRecord], str]]:
    """Depth-first rows (depth, span, parent_id): children under their parent, siblings by start.

    A span whose parent never arrived (its process was killed before exporting it) gets a
    placeholder row (depth, None, parent_id) above its orphaned children. The placeholder sits
    where a workflow span of the same workflow ID sits (a recovered run of that workflow has
    the same parent), else at the top level.
    """
    ids = {s.span_id for s in spans}
    children: dict[Optional[str], list] = {}
    for s in spans:
        children.setdefault(s.parent_id, []).append(s)
    lost: dict[str, list[SpanRecord]] = {}
    for s in spans:
        if s.parent_id and s.parent_id not in ids:
            lost.setdefault(s.parent_id, []).append(s)
    placed: dict[Optional[str], list] = {}  # parent span ID -> placeholders under it
    for lost_id, orphans in lost.items():
        workflow_id = orphans[0].attributes.get("operationUUID")
        twins = [s for s in spans if s.kind == "workflow" and workflow_id is not None
                 and s.attributes.get("operationUUID") == workflow_id]
        placed.setdefault(twins[0].parent_id if twins else None, []).append(lost_id)
    rows: list[tuple[int, Optional[SpanRecord], str]] = []

    def start_of(item) -> float:
        return item.start if isinstance(item, SpanRecord) else min(c.start for c in lost[item])

    def visit_all(parent_id: Optional[str], depth: int) -> None:
        items = [s for s in children.get(parent_id, []) if parent_id is not None
                 or s.parent_id is None]
        items += placed.get(parent_id, [])
        for item in sorted(items, key=start_of):
            if isinstance(item, SpanRecord):
                rows.append((depth, item, item.parent_id or ""))
                visit_all(item.span_id, depth + 1)
            else:
                rows.append((depth, None, item))
                for child in sorted(lost[item], key=lambda c: c.start):
                    rows.append((depth + 1, child, item))
                    visit_all(child.span_id, depth + 2)

    visit_all(None, 0)
    return rows


def span_tree(spans: Sequence[SpanRecord], show: Callable[[SpanRecord], str] = None) -> str:
    """The spans as an indented tree, one line each: name, kind, and `show(span)` if given."""
    lines = []
    for depth, span, parent in _rows(spans):
        if span is None:
            lines.append("  " * depth + "(a parent span that never arrived)")
            continue
        extra = f" {show(span)}" if show is not None else ""
        lines.append(f"{'  ' * depth}{span.name} [{span.kind}]{extra}".rstrip())
    return "\n".join(lines)


_COLOURS = {"workflow": "tab:blue", "step": "tab:orange", "other": "tab:green"}


def plot_waterfall(
    spans: Sequence[SpanRecord],
    *,
    title: str = "",
    group: Optional[Callable[[SpanRecord], str]] = None,
    faded: Optional[Callable[[SpanRecord], bool]] = None,
    marks: Optional[dict[str, float]] = None,
    origin: Optional[float] = None,
):
    """Draw a trace as a waterfall: one bar per span, children indented under their parent.

    Bars are coloured by `group(span)` (default: workflow / step / other span), drawn hatched
    and pale where `faded(span)` is true (for instance: replayed from a checkpoint, not run).
    An event on a span (DBOS adds one per failed attempt of a retried step) is a red cross on
    its bar. `marks` draws a labelled vertical line at each time (a SIGKILL, say). A span
    whose parent never arrived hangs under a dashed placeholder row. Returns the Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if not spans:
        raise ValueError("nothing to draw: no spans")
    rows = _rows(spans)
    zero = min(s.start for s in spans) if origin is None else origin
    group = group or (lambda s: s.kind)
    groups = sorted({group(s) for s in spans})
    palette = plt.get_cmap("tab10")
    colours = {g: _COLOURS.get(g, palette(i % 10)) for i, g in enumerate(groups)}

    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.32 * len(rows)))
    last = max(s.end for s in spans) - zero
    if marks:
        last = max([last] + [t - zero for t in marks.values()])
    thinnest = last * 0.008  # so that a span of a millisecond still shows
    labels = []
    for row, (depth, span, parent) in enumerate(rows):
        indent = "   " * depth
        if span is None:
            orphans = [s for s in spans if s.parent_id == parent]
            left = min(s.start for s in orphans) - zero
            right = max(s.end for s in orphans) - zero
            if marks:  # it lived until the process died
                right = max([right] + [t - zero for t in marks.values()])
            ax.barh(row, right - left, left=left, height=0.6, fill=False,
                    edgecolor="grey", linestyle="--", linewidth=1)
            labels.append(f"{indent}(span never exported)")
            continue
        is_faded = faded is not None and faded(span)
        ax.barh(
            row, max(span.end - span.start, thinnest), left=span.start - zero, height=0.6,
            color=colours[group(span)], alpha=0.35 if is_faded else 1.0,
            hatch="///" if is_faded else None, edgecolor="black", linewidth=0.4,
        )
        for _, when in span.events:
            ax.plot(when - zero, row, marker="x", color="tab:red", markersize=7, mew=2)
        if span.status == "ERROR":
            ax.text(span.end - zero + thinnest, row, "  error", va="center", fontsize=7,
                    color="tab:red")
        labels.append(f"{indent}{span.name}")
    ax.set_yticks(range(len(rows)), labels, fontsize=8, family="monospace")
    width = max(len(label) for label in labels)
    for tick in ax.get_yticklabels():  # left-aligned, so that the indentation shows
        tick.set_horizontalalignment("left")
    ax.tick_params(axis="y", pad=4.9 * width + 4)
    ax.invert_yaxis()
    ax.set_xlabel("seconds", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    for label, when in (marks or {}).items():
        ax.axvline(when - zero, color="tab:red", linestyle=":", linewidth=1.2)
        ax.text(when - zero, len(rows) - 0.5, f" {label}", color="tab:red", fontsize=8,
                va="bottom")
    handles = [Patch(facecolor=colours[g], edgecolor="black", label=g) for g in groups]
    if faded is not None and any(faded(s) for s in spans):
        handles.append(Patch(facecolor="white", hatch="///", edgecolor="black",
                             label="replayed, not run"))
    if any(s.events for s in spans):
        handles.append(plt.Line2D([], [], marker="x", color="tab:red", linestyle="",
                                  mew=2, label="error event"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1),
              borderaxespad=0)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
