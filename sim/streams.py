"""Common random numbers: one random stream per (seed, replicate, stream name).

Both arms of a replicate build the same streams and read them by person (or post) and day, never
in the order events happen, so they consume identical numbers for the same people and days.
"""

from __future__ import annotations

import zlib
from typing import TypeVar

import numpy as np


def stream_key(name: str) -> int:
    """A stable integer for a stream name (Python's own hash is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


_Uniforms = TypeVar("_Uniforms", "DailyUniforms", "EventUniforms")


class Streams:
    """Factory of independent generators keyed by ``(seed, replicate, name)``.

    Its daily and per-event uniforms are made once per set of arguments: models built on one ``Streams`` (the
    arms of a replicate, run side by side) read the same objects, so each block is drawn once for all of them.
    """

    def __init__(self, seed: int, replicate: int) -> None:
        self.seed = int(seed)
        self.replicate = int(replicate)
        self._made: dict[tuple, DailyUniforms | EventUniforms] = {}  # by (class, arguments)

    def generator(self, name: str) -> np.random.Generator:
        """A fresh generator for one stochastic process; same arguments, same numbers."""
        seq = np.random.SeedSequence([self.seed, self.replicate, stream_key(name)])
        return np.random.default_rng(seq)

    def block(
        self, name: str, index: int, length: int, units: int, extra: int, unit_axis: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Block ``index`` of stream ``name``: ``length`` uniforms per unit, units along ``unit_axis``.

        The ``extra`` units after the first ``units`` (people who arrive during a run) read a stream of their
        own, ``<name>/arrivals``, so the first ``units`` get the same numbers with or without them. ``out``, an
        array of the block's shape, is filled instead of a new one (the same numbers).
        """
        shape = (length, units) if unit_axis == 1 else (units, length)
        if not extra:
            return self.generator(f"{name}/block{index}").random(shape, out=out)
        block = self.generator(f"{name}/block{index}").random(shape)
        more_shape = (length, extra) if unit_axis == 1 else (extra, length)
        more = self.generator(f"{name}/arrivals/block{index}").random(more_shape)
        return np.concatenate((block, more), axis=unit_axis, out=out)

    def daily(
        self,
        name: str,
        width: int,
        block_days: int = 365,
        extra: int = 0,
    ) -> DailyUniforms:
        """Uniforms indexed by (day, unit), drawn a block of days at a time.

        ``extra`` units after the first ``width`` (people who arrive in a run) read streams of their own (``block``).
        """
        return self._once(DailyUniforms, name, int(width), int(block_days), int(extra))

    def per_event(self, name: str, n_units: int, per_block: int = 32, extra: int = 0) -> EventUniforms:
        """Uniforms indexed by (unit, k): the k-th event of that person or post (``extra`` units as in ``block``)."""
        return self._once(EventUniforms, name, int(n_units), int(per_block), int(extra))

    def _once(self, kind: type[_Uniforms], *args: str | int) -> _Uniforms:
        """The ``kind(self, *args)`` made first with these arguments (see the class's docstring)."""
        key = (kind, *args)
        if key not in self._made:
            self._made[key] = kind(self, *args)
        return self._made[key]  # type: ignore[return-value]


class DailyUniforms:
    """Full-length vectors of uniforms, one row per day; row ``t`` is the same in every arm."""

    def __init__(
        self,
        streams: Streams,
        name: str,
        width: int,
        block_days: int,
        extra: int = 0,
    ) -> None:
        self._streams = streams
        self._name = name
        self.extra = int(extra)
        self.width = int(width) + self.extra
        self.block_days = int(block_days)
        self._block_index = -1
        self._block = np.empty((0, self.width), dtype=np.float64)

    @property
    def drawn(self) -> int:
        """The index of the block in memory now (-1 before the first): arrays of another block were overwritten."""
        return self._block_index

    def row(self, day: int) -> np.ndarray:
        """Uniforms on [0, 1) for every unit on ``day`` (a read-only view, valid until another block is read)."""
        block_index, offset = divmod(day, self.block_days)
        return self.block(block_index)[offset]

    def block(self, index: int) -> np.ndarray:
        """Rows of days ``index * block_days`` onwards, one per day (read-only; the last block is full length too).

        Each block is drawn into the same array as the one before it: a run reads its blocks in turn, and fresh
        memory for every block (tens of MB a year in a large team) cost the kernel's zeroing of its pages. A reader
        that keeps a block checks ``drawn`` before it uses it again, since another reader may have moved on.
        """
        if index != self._block_index:
            units = self.width - self.extra
            out = self._block if self._block.shape == (self.block_days, self.width) else None
            if out is not None:
                out.flags.writeable = True
            self._block = self._streams.block(self._name, index, self.block_days, units, self.extra, 1, out=out)
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
            block = self._streams.block(self._name, index, self.per_block, self.n_units - self.extra, self.extra, 0)
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
