"""Per-call timing of several variants of one operation, interleaved so drift hits all alike.

    medians = interleaved({"raw": raw_call, "helper": helper_call})   # {"raw": 61.2, ...} in µs

Each variant is called with the iteration number (to pick its parameter) and timed per call;
the median ignores the odd stall (GC, a scheduler hiccup, a checkpoint) that a mean would keep.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping

Call = Callable[[int], object]

ITERATIONS = 3000
WARMUP = 300
BLOCK = 100


def interleaved(
    variants: Mapping[str, Call], *, iterations: int = ITERATIONS, warmup: int = WARMUP, block: int = BLOCK
) -> dict[str, float]:
    """Median microseconds per call of each variant, run in blocks whose order rotates."""
    names = list(variants)
    for name in names:
        _run(variants[name], range(warmup), [])
    samples: dict[str, list[int]] = {name: [] for name in names}
    gc.collect()
    for start in range(0, iterations, block):
        shift = (start // block) % len(names)
        for name in names[shift:] + names[:shift]:
            _run(variants[name], range(start, min(start + block, iterations)), samples[name])
    return {name: statistics.median(ns) / 1000 for name, ns in samples.items()}


def _run(call: Call, indices: range, out: list[int]) -> None:
    clock = time.perf_counter_ns
    for i in indices:
        began = clock()
        call(i)
        out.append(clock() - began)
