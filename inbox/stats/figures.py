"""Summaries of durations: count, median, 90th percentile and average.

The median is the middle value (the mean of the two middle values for an even count);
the 90th percentile is the nearest-rank one: the smallest value at or above which lie
no more than 10 % of the values, i.e. the ceil(0.9 n)-th smallest."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


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


def grouped_summaries(groups: Sequence[int], values: Sequence[float], count: int) -> list[Summary]:
    """The summary of the ``values`` of each group ``0 .. count - 1``, where ``groups``
    gives each value's group and ``values`` is in ascending order: each group's values
    are taken in that order, so none of them needs sorting again."""
    lists: list[list] = [[] for _ in range(count)]
    appends = [ordered.append for ordered in lists]
    for group, value in zip(groups, values, strict=True):
        appends[group](value)
    return [Summary.presorted(ordered) for ordered in lists]


def rate(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a percentage; None when there is nothing to divide."""
    return 100.0 * part / whole if whole else None
