"""Shared helpers: request-id arrays and a digest of a pool's observable state."""
from __future__ import annotations

import importlib.util
import os
import pathlib
import sys

import numpy as np
import pytest

import pagedkv as pk

sys.path.insert(0, os.path.dirname(__file__))  # model.py


def load_example(name: str):
    """examples/python/NAME.py as a module (the GPU proofs' pytests run the examples themselves)."""
    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def ids(*requests) -> np.ndarray:
    """A uint64 array of request ids (what batch calls and emitters take)."""
    return np.array(requests, dtype=np.uint64)


def views(pool):
    return [v for v in (getattr(pool, "full", None), getattr(pool, "swa", None)) if v is not None]


def digest(pool, requests) -> tuple:
    """Everything Python can observe of `pool` for the requests in `requests` (live or not)."""
    out = []
    for v in views(pool):
        out.append((v.free_pages, v.cached_pages, v.used_pages, v.live_requests, repr(v.stats)))
        for r in requests:
            if v.contains(r):
                out.append((r, v.length(r), v.committed(r), v.first_live_page(r), tuple(v.pages(r))))
            else:
                out.append((r, None))
    if hasattr(pool, "full_to_swa"):
        out.append(tuple(pool.full_to_swa()))
    return tuple(out)


@pytest.fixture
def hybrid():
    """P = 4, W = 8: a hybrid pool small enough to work out by hand."""
    return pk.HybridPool(full_pages=32, swa_pages=16, page_size=4, window=8)


ALL_POOLS = {
    "FullPool": lambda: pk.FullPool(pages=40, page_size=4),
    "SwaPool": lambda: pk.SwaPool(pages=40, page_size=4, window=8),
    "HybridPool": lambda: pk.HybridPool(full_pages=40, swa_pages=40, page_size=4, window=8),
    "LruFullPool": lambda: pk.LruFullPool(pages=40, page_size=4),
    "PriorityLruFullPool": lambda: pk.PriorityLruFullPool(pages=40, page_size=4),
    "S3FifoFullPool": lambda: pk.S3FifoFullPool(pages=40, page_size=4),
    "LruHybridPool": lambda: pk.LruHybridPool(full_pages=40, swa_pages=40, page_size=4, window=8),
    "PriorityLruHybridPool": lambda: pk.PriorityLruHybridPool(full_pages=40, swa_pages=40, page_size=4, window=8),
    "S3FifoHybridPool": lambda: pk.S3FifoHybridPool(full_pages=40, swa_pages=40, page_size=4, window=8),
}
CACHING_POOLS = [n for n in ALL_POOLS if n.startswith(("Lru", "PriorityLru", "S3Fifo"))]


@pytest.fixture(params=list(ALL_POOLS))
def any_pool(request):
    return ALL_POOLS[request.param]()


@pytest.fixture(params=CACHING_POOLS)
def caching_pool(request):
    return ALL_POOLS[request.param]()
