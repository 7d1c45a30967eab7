"""booktools.traces: the OTLP receiver decodes what the SDK's exporter sends, the tree places a
span whose parent never arrived, and the waterfall draws every row."""

import matplotlib

matplotlib.use("Agg")

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

from booktools.traces import (  # noqa: E402
    OtlpReceiver,
    SpanRecord,
    from_sdk,
    plot_waterfall,
    span_tree,
)


def provider_with(exporter) -> TracerProvider:
    provider = TracerProvider(resource=Resource({"service.name": "test-service"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_receiver_decodes_what_the_sdk_exports():
    with OtlpReceiver() as receiver:
        provider = provider_with(OTLPSpanExporter(endpoint=receiver.url))
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("parent") as parent:
            parent.set_attribute("operationType", "workflow")
            with tracer.start_as_current_span("child") as child:
                child.add_event("Step attempt 0 failed")
        provider.shutdown()
        assert receiver.wait_for(lambda spans: len(spans) == 2, timeout=5)
    assert not receiver.running
    by_name = {s.name: s for s in receiver.spans}
    assert by_name["child"].parent_id == by_name["parent"].span_id
    assert by_name["parent"].kind == "workflow" and by_name["child"].kind == "other"
    assert by_name["child"].service == "test-service"
    assert [name for name, _ in by_name["child"].events] == ["Step attempt 0 failed"]
    assert len({s.trace_id for s in receiver.spans}) == 1


def test_in_memory_spans_become_records():
    memory = InMemorySpanExporter()
    provider = provider_with(memory)
    with provider.get_tracer("test").start_as_current_span("only"):
        pass
    [record] = from_sdk(memory.get_finished_spans())
    assert record.name == "only" and record.parent_id is None and record.end >= record.start


def span(name, span_id, parent=None, start=0.0, workflow="wf-1", kind="step"):
    return SpanRecord(name=name, trace_id="t" * 32, span_id=span_id, parent_id=parent,
                      start=start, end=start + 0.1,
                      attributes={"operationUUID": workflow, "operationType": kind})


def test_a_lost_parent_sits_beside_the_recovered_run_of_its_workflow():
    client = SpanRecord(name="POST /orders", trace_id="t" * 32, span_id="root",
                        parent_id=None, start=0.0, end=0.05)
    spans = [
        client,
        span("step_one", "a1", parent="lost", start=0.1),  # its workflow span was lost
        span("place_order", "w2", parent="root", start=1.0, kind="workflow"),
        span("step_one", "b1", parent="w2", start=1.1),
    ]
    assert span_tree(spans) == "\n".join([
        "POST /orders [other]",
        "  (a parent span that never arrived)",
        "    step_one [step]",
        "  place_order [workflow]",
        "    step_one [step]",
    ])
    figure = plot_waterfall(spans, marks={"SIGKILL": 0.5}, faded=lambda s: s.span_id == "b1")
    assert len(figure.axes[0].get_yticklabels()) == 5
