"""pagedkv: paged KV-cache memory for LLM engines mixing full-attention and sliding-window layers.

See docs/python.md. Pools are created with keyword arguments; requests are ints; batch calls take
numpy arrays; tables are written into caller-provided buffers through the typed views
``pool.full`` and ``pool.swa``.
"""
from __future__ import annotations

from . import _pagedkv
from ._pagedkv import *  # noqa: F401,F403  (the classes, errors and constants)
from ._pagedkv import (FullPool, HybridPool, LruFullPool, LruHybridPool, PriorityLruFullPool,
                       PriorityLruHybridPool, S3FifoFullPool, S3FifoHybridPool, SwaPool)

__version__ = "0.1.0"

_EVICTION = ("lru", "priority_lru", "s3fifo")
_FULL = {None: FullPool, "lru": LruFullPool, "priority_lru": PriorityLruFullPool, "s3fifo": S3FifoFullPool}
_HYBRID = {None: HybridPool, "lru": LruHybridPool, "priority_lru": PriorityLruHybridPool,
           "s3fifo": S3FifoHybridPool}


def _pick(table, eviction):
    try:
        return table[eviction]
    except KeyError:
        raise ValueError(f"eviction must be None or one of {_EVICTION}, not {eviction!r}") from None


def full_pool(*, pages: int, page_size: int, eviction: str | None = None):
    """A full-attention pool; with ``eviction`` ("lru", "priority_lru", "s3fifo") a caching one."""
    return _pick(_FULL, eviction)(pages=pages, page_size=page_size)


def swa_pool(*, pages: int, page_size: int, window: int) -> SwaPool:
    """A sliding-window pool (used alone it has no prefix cache: a hybrid pool's full pages key SWA pages)."""
    return SwaPool(pages=pages, page_size=page_size, window=window)


def hybrid_pool(*, full_pages: int, swa_pages: int, page_size: int, window: int, eviction: str | None = None):
    """A hybrid full + SWA pool; with ``eviction`` ("lru", "priority_lru", "s3fifo") a caching one."""
    return _pick(_HYBRID, eviction)(full_pages=full_pages, swa_pages=swa_pages, page_size=page_size,
                                    window=window)


__all__ = [name for name in dir(_pagedkv) if not name.startswith("_")] + [
    "full_pool", "swa_pool", "hybrid_pool"]
