"""Format and combine the benchmark's figures."""

from __future__ import annotations

import math


def format_seconds(value: float) -> str:
    """Return seconds with three decimals, or n/a for NaN."""
    return "n/a" if math.isnan(value) else f"{value:.3f} s"


def format_ms(value: float) -> str:
    """Return seconds as milliseconds with two decimals, or n/a for NaN."""
    return "n/a" if math.isnan(value) else f"{value * 1000:.2f} ms"


def format_ratio(value: float) -> str:
    """Return a ratio such as 1.25x, or n/a for NaN."""
    return "n/a" if math.isnan(value) else f"{value:.2f}x"


def format_bytes(value: float) -> str:
    """Return a size in kB or MB, or n/a for NaN."""
    if math.isnan(value):
        return "n/a"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f} MB"
    return f"{value / 1000:.0f} kB"


def divide(numerator: float, denominator: float) -> float:
    """Return numerator / denominator, or NaN when the denominator is 0 or NaN."""
    return numerator / denominator if denominator and not math.isnan(denominator) else float("nan")



def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Return (intercept, slope) of the least-squares line through the points."""
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread if spread else 0.0
    return mean_y - slope * mean_x, slope
