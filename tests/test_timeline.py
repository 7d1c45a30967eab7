"""The timeline helper: the facts chapters print next to their plots, and the plot itself."""

import matplotlib

matplotlib.use("Agg")  # no display in tests

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from booktools.timeline import (  # noqa: E402
    Span,
    by_group,
    max_running,
    max_starts_within,
    plot_timeline,
    start_order,
)


def spans(*intervals, group=""):
    return [Span(f"t{n}", start, end, group) for n, (start, end) in enumerate(intervals, 1)]


def test_max_running_counts_overlaps():
    assert max_running(spans((0, 3), (1, 2), (1.5, 4), (5, 6))) == 3
    assert max_running(spans((0, 1))) == 1
    assert max_running([]) == 0


def test_a_span_ending_as_another_starts_does_not_overlap_it():
    # A queue with worker_concurrency=1 starts the next task the moment one ends.
    assert max_running(spans((0, 1), (1, 2), (2, 3))) == 1


def test_start_order_sorts_by_start_and_keeps_ties_in_order():
    tasks = [Span("late", 2, 3), Span("first", 0, 5), Span("tie-a", 1, 2), Span("tie-b", 1, 2)]
    assert start_order(tasks) == ["first", "tie-a", "tie-b", "late"]


def test_max_starts_within_a_window():
    # Starts at 0, 0.1, 1.0, 1.05, 2.0: the window [0.1, 1.1) holds three of them.
    starts = spans((0, 0), (0.1, 0.1), (1.0, 1.0), (1.05, 1.05), (2.0, 2.0))
    assert max_starts_within(starts, 1.0) == 3
    assert max_starts_within(starts, 0.5) == 2
    assert max_starts_within(starts, 10) == 5
    assert max_starts_within([], 1.0) == 0


def test_rate_limited_starts_stay_within_the_limit():
    # Two starts, then two more just over a second later: any 1 s window holds two.
    starts = spans(*[(t, t + 0.2) for t in (0, 0.01, 1.05, 1.06, 2.1, 2.11)])
    assert max_starts_within(starts, 1.0) == 2


def test_by_group_keeps_first_appearance_order():
    tasks = [Span("a1", 0, 1, "ada"), Span("g1", 0, 1, "grace"), Span("a2", 1, 2, "ada")]
    groups = by_group(tasks)
    assert list(groups) == ["ada", "grace"]
    assert [s.label for s in groups["ada"]] == ["a1", "a2"]


def test_a_span_cannot_end_before_it_starts():
    with pytest.raises(ValueError, match="ends"):
        Span("backwards", 2, 1)


def test_plot_draws_one_bar_per_task_and_the_limit():
    tasks = spans((0, 1), (0.2, 1.5), (1, 2), group="local")
    fig = plot_timeline(tasks, title="three tasks", limit=2, period=1.0)
    bars_axis, counts_axis = fig.axes
    assert len(bars_axis.patches) == 3
    assert [t.get_text() for t in bars_axis.get_yticklabels()] == ["t1", "t2", "t3"]
    assert bars_axis.get_title() == "three tasks"
    assert any(line.get_linestyle() == "--" for line in counts_axis.get_lines())  # the limit
    plt.close(fig)


def test_plot_refuses_nothing_to_draw():
    with pytest.raises(ValueError):
        plot_timeline([])


def test_a_timeline_is_described_in_words_that_end_with_its_point():
    from booktools.timeline import describe_timeline

    tasks = spans((0, 1), (0.2, 1.5), (1, 2), group="local")
    text = describe_timeline(tasks, "at most 2 ran at once", tasks="jobs", colour_by="process",
                             limit=2, period=1.0)
    assert text.startswith("Timeline of 3 jobs, one horizontal bar each")
    assert "colour shows its process" in text and "limit of 2" in text and "every 1 s" in text
    assert text.endswith("At most 2 ran at once.")
    assert "local" not in text  # which process ran what changes from run to run


def test_show_figure_prints_its_description_under_the_figure(capsys):
    from booktools.timeline import CAPTION_PREFIX, show_figure, show_timeline

    show_timeline(spans((0, 1), (0.5, 2)), "both ran at once", limit=2)
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(CAPTION_PREFIX + "Timeline of 2 tasks")
    assert out[-1].endswith("Both ran at once.")
    fig = plot_timeline(spans((0, 1)))
    with pytest.raises(ValueError, match="description"):
        show_figure(fig, "  ")
    plt.close(fig)
