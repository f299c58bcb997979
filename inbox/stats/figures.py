"""Summaries of durations: count, median, 90th percentile and average.

The median is the middle value (the mean of the two middle values for an even count);
the 90th percentile is the nearest-rank one: the smallest value at or above which lie
no more than 10 % of the values, i.e. the ceil(0.9 n)-th smallest."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    count: int = 0
    median: float | None = None
    p90: float | None = None
    average: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        ordered = sorted(values)
        n = len(ordered)
        if not n:
            return cls()
        middle = n // 2
        median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        p90 = ordered[math.ceil(0.9 * n) - 1]
        return cls(n, median, p90, sum(ordered) / n)


def rate(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a percentage; None when there is nothing to divide."""
    return 100.0 * part / whole if whole else None
