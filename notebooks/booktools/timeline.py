"""Timelines: when each task ran, drawn as one bar per task.

Concurrency is easier to see than to read. A chapter collects a start and an
end time for every task (from the tasks themselves or from DBOS's workflow
status), turns them into Spans, draws them with `plot_timeline`, and prints
the facts that make the picture's point in words that stay the same from run
to run: `max_running` (at most N at once), `start_order` (who went first),
`max_starts_within` (how many started in any window of a rate limit's period).

Times are seconds on any one clock (`time.time()` works across processes);
only differences between them matter. Nothing here talks to DBOS.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence


@dataclass(frozen=True)
class Span:
    """One task: a label, when it started and ended, and an optional group
    (the process that ran it, its priority, its user...) that sets its colour."""

    label: str
    start: float
    end: float
    group: str = ""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"{self.label}: ends ({self.end}) before it starts ({self.start})")


def max_running(spans: Iterable[Span]) -> int:
    """The largest number of spans running at the same instant.

    A span that ends exactly when another starts does not overlap it.
    """
    events = []
    for span in spans:
        events.append((span.start, 1))
        events.append((span.end, -1))
    events.sort()  # at equal times -1 sorts first: an end frees its slot first
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def start_order(spans: Iterable[Span]) -> list[str]:
    """Labels in the order the spans started (ties keep their given order)."""
    return [span.label for span in sorted(spans, key=lambda s: s.start)]


def max_starts_within(spans: Iterable[Span], window: float) -> int:
    """The most spans that started inside any window [t, t + window).

    With a rate limit of `limit` starts per `period`, this is at most `limit`
    for window = period.
    """
    starts = sorted(span.start for span in spans)
    best = 0
    first = 0
    for last, start in enumerate(starts):
        while start - starts[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


def by_group(spans: Iterable[Span]) -> dict[str, list[Span]]:
    """The spans of each group, groups in order of first appearance."""
    groups: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        groups[span.group].append(span)
    return dict(groups)


def plot_timeline(
    spans: Sequence[Span],
    *,
    title: str = "",
    origin: Optional[float] = None,
    limit: Optional[int] = None,
    period: Optional[float] = None,
):
    """Draw one bar per span (first to start at the top), coloured by group,
    above a step plot of how many were running at each moment.

    origin: the time shown as 0 (default: the earliest start).
    limit: draw this concurrency limit as a dashed line on the lower panel.
    period: draw a dotted line every `period` seconds from the origin, to read
            a rate limit's windows off the picture.
    Returns the matplotlib Figure; end the notebook cell with plt.show().
    """
    import matplotlib.pyplot as plt

    if not spans:
        raise ValueError("nothing to draw: no spans")
    ordered = sorted(spans, key=lambda s: s.start)
    zero = min(s.start for s in ordered) if origin is None else origin
    groups = sorted(by_group(ordered))  # sorted: a group keeps its colour across plots
    colours = {g: plt.get_cmap("tab10")(i % 10) for i, g in enumerate(groups)}

    fig, (bars, counts) = plt.subplots(
        2, 1, sharex=True, figsize=(7, 1.6 + 0.28 * len(ordered)),
        gridspec_kw={"height_ratios": [max(2, len(ordered) * 0.28), 1.2]},
    )
    labelled: set[str] = set()
    for row, span in enumerate(ordered):
        show = span.group and span.group not in labelled
        labelled.add(span.group)
        bars.barh(
            row, span.end - span.start, left=span.start - zero, height=0.7,
            color=colours[span.group], edgecolor="black", linewidth=0.4,
            label=span.group if show else None,
        )
    bars.set_yticks(range(len(ordered)), [s.label for s in ordered], fontsize=8)
    bars.invert_yaxis()
    bars.grid(axis="x", alpha=0.3)
    if any(groups):  # outside the plot, where it hides no bar
        bars.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    if title:
        bars.set_title(title, fontsize=10)

    # Lower panel: how many were running at each moment.
    events = sorted([(s.start - zero, 1) for s in ordered]
                    + [(s.end - zero, -1) for s in ordered])
    times, running, now = [events[0][0]], [0], 0
    for when, change in events:
        now += change
        times.append(when)
        running.append(now)
    counts.step(times, running, where="post", color="black", linewidth=1)
    counts.set_ylabel("running", fontsize=8)
    counts.set_ylim(0, max(running + [limit or 0]) + 1)
    counts.yaxis.get_major_locator().set_params(integer=True)
    if limit is not None:
        counts.axhline(limit, color="tab:red", linestyle="--", linewidth=1)
        counts.text(times[-1], limit, f" limit {limit}", color="tab:red",
                    va="bottom", ha="right", fontsize=8)
    counts.set_xlabel("seconds", fontsize=8)
    counts.grid(axis="x", alpha=0.3)

    if period is not None:
        last = max(s.end for s in ordered) - zero
        for k in range(int(last // period) + 1):
            for axis in (bars, counts):
                axis.axvline(k * period, color="tab:blue", linestyle=":", linewidth=1)
    counts.set_xlim(left=min(0.0, ordered[0].start - zero))
    fig.tight_layout()
    return fig


# --- Figures that say what they show ---------------------------------------------------
# A chart teaches nothing to a reader who cannot see it. Every figure in the book is shown
# with `show_figure`, which prints a one-line description under it ("Figure: ..."): JupyterLab
# shows that line under the plot, and the HTML book also uses it as the image's alt text
# (book/ext/book_a11y.py copies it there). So write the description with the figure, and say
# what it shows in facts that are the same on every run (nbval compares the line).

CAPTION_PREFIX = "Figure: "


def describe_timeline(
    spans: Sequence[Span],
    finding: str,
    *,
    tasks: str = "tasks",
    colour_by: str = "",
    limit: Optional[int] = None,
    period: Optional[float] = None,
) -> str:
    """What `plot_timeline` draws, in words, ending with `finding`: the point of the
    picture (such as "never more than 3 ran at once"), in facts stable from run to run.

    colour_by: what a bar's colour (its span's group) stands for, e.g. "process" (the groups'
    names are left out: which process took which task changes from run to run).
    """
    if not spans:
        raise ValueError("nothing to describe: no spans")
    text = (f"Timeline of {len(spans)} {tasks}, one horizontal bar each from its start to its"
            f" end, the first to start at the top")
    if colour_by:
        text += f"; a bar's colour shows its {colour_by}"
    text += ". Below, a step line counts how many ran at each moment"
    if limit is not None:
        text += f", under a dashed red line at the limit of {limit}"
    if period is not None:
        text += f"; dotted vertical lines mark every {period:g} s"
    finding = finding.strip().rstrip(".")
    return f"{text}. {finding[:1].upper()}{finding[1:]}." if finding else f"{text}."


def show_figure(fig, description: str) -> None:
    """Show a matplotlib figure with its description printed under it as one line
    ("Figure: ..."), which the HTML book also makes the image's alt text."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    description = " ".join(description.split())
    if not description:
        raise ValueError("a figure needs a description: what does it show?")
    display(fig)
    plt.close(fig)
    print(CAPTION_PREFIX + description)


def show_timeline(spans: Sequence[Span], finding: str, *, tasks: str = "tasks",
                  colour_by: str = "", **plot) -> None:
    """`plot_timeline(spans, **plot)` shown with its description (`describe_timeline`)."""
    description = describe_timeline(spans, finding, tasks=tasks, colour_by=colour_by,
                                    limit=plot.get("limit"), period=plot.get("period"))
    show_figure(plot_timeline(spans, **plot), description)
