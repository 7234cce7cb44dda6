"""Every pool call, on small hand-worked histories (P = 4, W = 8: a query at p sees [p-7, p])."""
import numpy as np
import pytest

import pagedkv as pk
from conftest import ids


def test_pools_are_created_with_keyword_arguments_only():
    with pytest.raises(TypeError):
        pk.FullPool(16, 4)
    pool = pk.FullPool(pages=16, page_size=4)
    assert (pool.full.num_pages, pool.full.page_size, pool.full.window) == (16, 4, 0)
    assert pool.full.free_pages == 15  # the null page is never free
    swa = pk.SwaPool(pages=16, page_size=4, window=8)
    assert (swa.swa.num_pages, swa.swa.window, swa.swa.kind) == (16, 8, pk.AttentionKind.sliding)
    h = pk.HybridPool(full_pages=32, swa_pages=16, page_size=4, window=8)
    assert (h.full.num_pages, h.swa.num_pages, h.full.kind) == (32, 16, pk.AttentionKind.full)


def test_factories_pick_the_class_of_the_eviction_policy():
    assert type(pk.full_pool(pages=8, page_size=4)) is pk.FullPool
    assert type(pk.full_pool(pages=8, page_size=4, eviction="lru")) is pk.LruFullPool
    assert type(pk.full_pool(pages=8, page_size=4, eviction="priority_lru")) is pk.PriorityLruFullPool
    assert type(pk.full_pool(pages=8, page_size=4, eviction="s3fifo")) is pk.S3FifoFullPool
    assert type(pk.swa_pool(pages=8, page_size=4, window=8)) is pk.SwaPool
    kw = dict(full_pages=8, swa_pages=8, page_size=4, window=8)
    assert type(pk.hybrid_pool(**kw)) is pk.HybridPool
    assert type(pk.hybrid_pool(**kw, eviction="lru")) is pk.LruHybridPool
    assert type(pk.hybrid_pool(**kw, eviction="priority_lru")) is pk.PriorityLruHybridPool
    assert type(pk.hybrid_pool(**kw, eviction="s3fifo")) is pk.S3FifoHybridPool
    with pytest.raises(ValueError, match="eviction"):
        pk.hybrid_pool(**kw, eviction="fifo")


def test_a_hybrid_request_through_prefill_decode_draft_rollback_and_free(hybrid):
    r = hybrid.add_request()
    assert r == 0 and r in hybrid and hybrid.contains(r)
    hybrid.extend(r, 10)  # LIFO free lists: pages 1, 2, 3 in both pools
    assert list(hybrid.full.pages(r)) == [1, 2, 3] and list(hybrid.swa.pages(r)) == [1, 2, 3]
    assert list(hybrid.full.slot_mapping(ids(r))) == list(range(4, 14))
    assert hybrid.full.tokens_in_flight(r) == 10
    hybrid.commit(r, 10)  # dead_pages(10, 8, 4) = 0: nothing leaves the window
    assert (hybrid.full.length(r), hybrid.full.committed(r), hybrid.swa.first_live_page(r)) == (10, 10, 0)
    hybrid.extend(r, 6)
    hybrid.commit(r, 6)  # dead_pages(16, 8, 4) = 2: SWA pages 1 and 2 go back, their entries become 0
    assert list(hybrid.full.pages(r)) == [1, 2, 3, 4]
    assert list(hybrid.swa.pages(r)) == [0, 0, 3, 4]
    assert hybrid.swa.first_live_page(r) == 2 and hybrid.swa.pages_held(r) == 2
    f2s = hybrid.full_to_swa()
    assert list(f2s[:5]) == [0, 0, 0, 3, 4]
    hybrid.extend(r, 1)  # the next page: full 5, SWA 2 (the last page pushed)
    assert list(hybrid.swa.pages(r)) == [0, 0, 3, 4, 2]
    assert list(hybrid.full.slot_mapping(ids(r))) == [20] and list(hybrid.swa.slot_mapping(ids(r))) == [8]
    hybrid.truncate(r, 16)  # roll the draft back
    assert list(hybrid.full.pages(r)) == [1, 2, 3, 4] and hybrid.full.length(r) == 16
    with pytest.raises(pk.WindowAlreadyReleasedError):
        hybrid.truncate(r, 7)
    hybrid.free(r)
    assert r not in hybrid
    assert hybrid.full.free_pages == 31 and hybrid.swa.free_pages == 15
    assert hybrid.add_request() == 1 << 32  # slot 0 again, next generation
    hybrid.check_invariants()


def test_add_committed_request_holds_only_the_window_in_the_swa_pool(hybrid):
    r = hybrid.add_committed_request(20)  # dead_pages(20, 8, 4) = 3
    assert list(hybrid.full.pages(r)) == [1, 2, 3, 4, 5]
    assert list(hybrid.swa.pages(r)) == [0, 0, 0, 1, 2]
    assert hybrid.full.committed(r) == 20 and hybrid.full.tokens_in_flight(r) == 0
    assert list(hybrid.full_to_swa()[4:6]) == [1, 2]
    hybrid.check_invariants()


def test_full_and_swa_pools_alone():
    full = pk.FullPool(pages=8, page_size=4)
    r = full.add_request()
    full.extend(r, 9)
    full.commit(r, 9)
    assert list(full.full.pages(r)) == [1, 2, 3]
    full.truncate(r, 4)
    assert list(full.full.pages(r)) == [1]
    full.free(r)
    assert full.full.live_requests == 0
    swa = pk.SwaPool(pages=8, page_size=4, window=8)
    r = swa.add_request()
    swa.extend(r, 16)
    swa.commit(r, 16)
    assert list(swa.swa.pages(r)) == [0, 0, 3, 4]
    assert not hasattr(full, "swa") and not hasattr(swa, "full")  # a pool has only the view of its kind
    swa.check_invariants()
    full.check_invariants()


def test_add_requests_returns_an_id_array(any_pool):
    batch = any_pool.add_requests(3)
    assert batch.dtype == np.uint64 and list(batch) == [0, 1, 2]
    assert all(int(r) in any_pool for r in batch)


def test_batch_calls_equal_the_per_request_calls(any_pool):
    twin = type(any_pool)(**_kwargs(any_pool))
    a, b = any_pool.add_requests(3), twin.add_requests(3)
    counts = np.array([5, 9, 1], dtype=np.int64)
    any_pool.extend_many(a, counts)
    for r, n in zip(b, counts):
        twin.extend(int(r), int(n))
    any_pool.commit_many(a, np.array([5, 2, 0]))  # an int array of another dtype converts
    for r, n in zip(b, [5, 2, 0]):
        twin.commit(int(r), n)
    any_pool.extend_many(a, 4)  # one count for all
    for r in b:
        twin.extend(int(r), 4)
    any_pool.truncate_many(a, np.array([6, 5, 2]))
    for r, n in zip(b, [6, 5, 2]):
        twin.truncate(int(r), n)
    from conftest import digest
    assert digest(any_pool, list(a)) == digest(twin, list(b))
    any_pool.free_many(a[:2])
    assert [int(r) in any_pool for r in a] == [False, False, True]
    any_pool.check_invariants()


def test_batch_length_mismatch_is_a_value_error(hybrid):
    batch = hybrid.add_requests(2)
    with pytest.raises(ValueError, match="counts has 1 entries for a batch of 2"):
        hybrid.extend_many(batch, np.array([1]))


def test_views_keep_their_pool_alive():
    view = pk.HybridPool(full_pages=8, swa_pages=8, page_size=4, window=8).swa
    import gc
    gc.collect()
    assert view.free_pages == 7


def test_page_queries(hybrid):
    r = hybrid.add_request()
    hybrid.extend(r, 4)
    assert hybrid.full.ref_count(1) == 1 and hybrid.full.ref_count(2) == 0
    assert not hybrid.full.is_cached(1)
    with pytest.raises(IndexError):
        hybrid.full.ref_count(32)
    with pytest.raises(pk.UnknownRequestError):
        hybrid.full.pages(12345)


def test_module_helpers():
    assert pk.NULL_PAGE == 0
    assert pk.pages_for_tokens(9, 4) == 3
    assert pk.dead_pages(16, 8, 4) == 2
    assert pk.DEFAULT_RETENTION_PRIORITY == 35 and pk.MAX_RETENTION_PRIORITY == 100


def _kwargs(pool):
    if hasattr(pool, "full") and hasattr(pool, "swa"):
        return dict(full_pages=pool.full.num_pages, swa_pages=pool.swa.num_pages,
                    page_size=pool.full.page_size, window=pool.swa.window)
    v = pool.full if hasattr(pool, "full") else pool.swa
    kw = dict(pages=v.num_pages, page_size=v.page_size)
    if v.window:
        kw["window"] = v.window
    return kw
