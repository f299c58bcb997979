"""Summaries of durations: count, median, 90th percentile and average.

The median is the middle value (the mean of the two middle values for an even count);
the 90th percentile is the nearest-rank one: the smallest value at or above which lie
no more than 10 % of the values, i.e. the ceil(0.9 n)-th smallest."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Summary:
    count: int = 0
    median: float | None = None
    p90: float | None = None
    average: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        return cls.presorted(sorted(values))

    @classmethod
    def presorted(cls, ordered: Sequence[float]) -> Summary:
        """The summary of ``ordered``, which is already in ascending order."""
        n = len(ordered)
        if not n:
            return cls()
        middle = n // 2
        median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        p90 = ordered[math.ceil(0.9 * n) - 1]
        return cls(n, median, p90, sum(ordered) / n)


def grouped_summaries(groups: np.ndarray, values: np.ndarray, count: int) -> list[Summary]:
    """The summary of the ``values`` of each group ``0 .. count - 1``, where ``groups``
    gives each value's group and ``values`` (whole seconds) is in ascending order: a
    stable sort by group keeps each group's values in that order, so none of them needs
    sorting again."""
    import numpy as np  # noqa: PLC0415  (loaded with the first report, not with the app)

    # A stable sort of 8- or 16-bit integers is a radix sort, several times faster.
    order = np.argsort(groups.astype(np.min_scalar_type(count)), kind="stable")
    return _run_summaries(values[order], np.bincount(groups, minlength=count))


def _run_summaries(ordered: np.ndarray, counts: np.ndarray) -> list[Summary]:
    """The summaries of consecutive runs of ``ordered`` (whole seconds), ``counts[i]``
    values in the i-th, each run in ascending order."""
    import numpy as np  # noqa: PLC0415  (loaded with the first report, not with the app)

    if not len(ordered):
        return [Summary()] * len(counts)
    ends = np.cumsum(counts)
    starts = ends - counts
    totals = np.concatenate(([0], np.cumsum(ordered)))

    def nth(ranks: np.ndarray) -> list:
        # Clipped: the ranks of an empty run point outside it, and are not used.
        return ordered[np.clip(starts + ranks, 0, len(ordered) - 1)].tolist()

    lows, highs = nth((counts - 1) // 2), nth(counts // 2)
    p90s = nth(np.ceil(0.9 * counts).astype(np.intp) - 1)
    sums = (totals[ends] - totals[starts]).tolist()
    return [
        Summary(n, high if n % 2 else (low + high) / 2, p90, total / n) if n else Summary()
        for n, low, high, p90, total in zip(counts.tolist(), lows, highs, p90s, sums, strict=True)
    ]


def rate(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a percentage; None when there is nothing to divide."""
    return 100.0 * part / whole if whole else None
