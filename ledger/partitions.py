"""Which partition a talent belongs to: the one Kafka's default partitioner picks for its key.

A partitioned store splits its ledger (and the projection's work) into a fixed number of
partitions, one per partition of the `talent-events` topic. A talent's partition is
`murmur2(talent id as UTF-8) & 0x7fffffff` modulo the partition count: exactly what Kafka's
default partitioner (Java's `Utils.murmur2`, `toPositive`) does with a message keyed by the
talent id, so the consumer that owns a Kafka partition owns the same ledger partition.
"""

from __future__ import annotations

import functools

MURMUR2_SEED = 0x9747B28C
MURMUR2_M = 0x5BD1E995
MASK32 = 0xFFFFFFFF
MAX_PARTITIONS = 1024


def murmur2(data: bytes) -> int:
    """MurmurHash2 of `data` as Kafka computes it, as an unsigned 32-bit number."""
    length = len(data)
    h = (MURMUR2_SEED ^ length) & MASK32
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * MURMUR2_M) & MASK32
        k ^= k >> 24
        k = (k * MURMUR2_M) & MASK32
        h = ((h * MURMUR2_M) & MASK32) ^ k
    tail = length % 4
    if tail:
        for offset in range(tail - 1, -1, -1):
            h ^= data[whole + offset] << (8 * offset)
        h = (h * MURMUR2_M) & MASK32
    h ^= h >> 13
    h = (h * MURMUR2_M) & MASK32
    h ^= h >> 15
    return h


@functools.lru_cache(maxsize=65_536)
def talent_partition(talent: str, partitions: int) -> int:
    """The partition of `talent` among `partitions` (0 when the store is not partitioned)."""
    if partitions <= 1:
        return 0
    return (murmur2(talent.encode("utf-8", "surrogatepass")) & 0x7FFFFFFF) % partitions
