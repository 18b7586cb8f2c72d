"""Common random numbers: one random stream per (seed, replicate, stream name).

Both arms of a replicate build the same streams and read them by person (or post) and day, never
in the order events happen, so they consume identical numbers for the same people and days.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np


def stream_key(name: str) -> int:
    """A stable integer for a stream name (Python's own hash is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """Factory of independent generators keyed by ``(seed, replicate, name)``."""

    def __init__(self, seed: int, replicate: int) -> None:
        self.seed = int(seed)
        self.replicate = int(replicate)

    def generator(self, name: str) -> np.random.Generator:
        """A fresh generator for one stochastic process; same arguments, same numbers."""
        seq = np.random.SeedSequence([self.seed, self.replicate, stream_key(name)])
        return np.random.default_rng(seq)

    def daily(
        self,
        name: str,
        width: int,
        block_days: int = 365,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        extra: int = 0,
    ) -> DailyUniforms:
        """Uniforms indexed by (day, unit), drawn a block of days at a time, optionally transformed once per block.

        ``extra`` units after the first ``width`` (people who arrive during a run) read a stream of their own,
        ``<name>/arrivals``, so the first ``width`` units get the same numbers with or without them.
        """
        return DailyUniforms(self, name, width, block_days, transform, extra)

    def per_event(self, name: str, n_units: int, per_block: int = 32, extra: int = 0) -> EventUniforms:
        """Uniforms indexed by (unit, k): the k-th event of that person or post (``extra`` units as in ``daily``)."""
        return EventUniforms(self, name, n_units, per_block, extra)


class DailyUniforms:
    """Full-length vectors of uniforms, one row per day; row ``t`` is the same in every arm."""

    def __init__(
        self,
        streams: Streams,
        name: str,
        width: int,
        block_days: int,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        extra: int = 0,
    ) -> None:
        self._streams = streams
        self._transform = transform
        self._name = name
        self.extra = int(extra)
        self.width = int(width) + self.extra
        self.block_days = int(block_days)
        self._block_index = -1
        self._block = np.empty((0, self.width), dtype=np.float64)

    def row(self, day: int) -> np.ndarray:
        """Uniforms on [0, 1) (or their transform) for every unit on ``day`` (a read-only view)."""
        block_index, offset = divmod(day, self.block_days)
        return self.block(block_index)[offset]

    def block(self, index: int) -> np.ndarray:
        """Rows of days ``index * block_days`` onwards, one per day (read-only; the last block is full length too)."""
        if index != self._block_index:
            rng = self._streams.generator(f"{self._name}/block{index}")
            block = rng.random((self.block_days, self.width - self.extra))
            if self.extra:
                more = self._streams.generator(f"{self._name}/arrivals/block{index}")
                block = np.concatenate((block, more.random((self.block_days, self.extra))), axis=1)
            self._block = block if self._transform is None else self._transform(block)
            self._block.flags.writeable = False
            self._block_index = index
        return self._block


class EventUniforms:
    """Uniforms for the k-th event of each unit, so event outcomes pair across arms by person and count."""

    def __init__(self, streams: Streams, name: str, n_units: int, per_block: int, extra: int = 0) -> None:
        self._streams = streams
        self._name = name
        self.extra = int(extra)
        self.n_units = int(n_units) + self.extra
        self.per_block = int(per_block)
        self._blocks: dict[int, np.ndarray] = {}

    def _block(self, index: int) -> np.ndarray:
        block = self._blocks.get(index)
        if block is None:
            rng = self._streams.generator(f"{self._name}/block{index}")
            block = rng.random((self.n_units - self.extra, self.per_block))
            if self.extra:
                more = self._streams.generator(f"{self._name}/arrivals/block{index}")
                block = np.concatenate((block, more.random((self.extra, self.per_block))), axis=0)
            self._blocks[index] = block
        return block

    def columns(self, n_blocks: int) -> np.ndarray:
        """Uniforms of events 0 .. ``n_blocks * per_block - 1``: one row per unit, one column per event."""
        return np.concatenate([self._block(index) for index in range(n_blocks)], axis=1)

    def take(self, units: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Uniforms for ``units`` at their event numbers ``counts`` (0-based), same length as ``units``."""
        units = np.asarray(units, dtype=np.int64)
        counts = np.asarray(counts, dtype=np.int64)
        blocks, cols = np.divmod(counts, self.per_block)
        if units.size == 0 or blocks.max() == 0:
            return self._block(0)[units, cols]
        out = np.empty(units.size)
        for index in np.unique(blocks):
            sel = blocks == index
            out[sel] = self._block(int(index))[units[sel], cols[sel]]
        return out


def exponential_hazard(u: np.ndarray) -> np.ndarray:
    """Turn uniforms into unit-exponential thresholds: an event with daily hazard ``h`` happens when ``h >= x``.

    Comparing a hazard with ``-log(1 - u)`` is the same draw as ``u < 1 - exp(-h)``, with no exp per day.
    """
    return -np.log1p(-u)
