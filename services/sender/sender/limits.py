"""Meta's limits the sender takes before Meta enforces them: a number's throughput and a customer's pair rate."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    number_rate_per_s: float = 80.0
    pair_rate_per_s: float = 1 / 6
    pair_burst: int = 45

    def full_after_s(self) -> float:
        """After this long untouched, every bucket is full again (with a wide margin)."""
        return max(3600.0, 2 * self.pair_burst / self.pair_rate_per_s)
