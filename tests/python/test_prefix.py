"""Prefix reuse on the caching pools: attach, lookup, keyed commit, preempt, scopes, events, stats."""
import numpy as np
import pytest

import pagedkv as pk
from conftest import ALL_POOLS, digest, ids

PROMPT = np.arange(100, 117, dtype=np.int32)  # 17 tokens: 4 whole pages of 4, and one more token


def prefill(pool, tokens, **scope):
    r = pool.add_request(**scope)
    pool.extend(r, len(tokens))
    pool.commit(r, len(tokens), tokens)
    return r


def test_a_finished_request_s_pages_serve_the_next_one(caching_pool):
    r = prefill(caching_pool, PROMPT)
    caching_pool.free(r)
    view = caching_pool.full
    assert view.cached_pages == 4 and view.used_pages == 0
    assert caching_pool.lookup(PROMPT) == 16  # never the last token: at most 16 of 17
    s = caching_pool.add_request()
    assert caching_pool.attach_prefix(s, PROMPT) == 16
    assert view.length(s) == view.committed(s) == 16 and view.cached_pages == 0
    stats = view.stats
    assert (stats.lookups, stats.queried_tokens, stats.hit_tokens, stats.stored_pages) == (1, 17, 16, 4)
    assert stats.hit_rate == pytest.approx(16 / 17)
    caching_pool.extend(s, 1)
    caching_pool.commit(s, 1)
    caching_pool.check_invariants()


def test_tokens_may_be_a_list_or_any_int_array(caching_pool):
    r = prefill(caching_pool, list(PROMPT))
    caching_pool.free(r)
    assert caching_pool.lookup(list(PROMPT)) == 16
    assert caching_pool.lookup(PROMPT.astype(np.int64)) == 16
    with pytest.raises(TypeError):
        caching_pool.lookup("not tokens")


def test_scopes_isolate_tenants_and_adapters(caching_pool):
    r = prefill(caching_pool, PROMPT, tenant_salt=7)
    caching_pool.free(r)
    assert caching_pool.lookup(PROMPT) == 0
    assert caching_pool.lookup(PROMPT, tenant_salt=7) == 16
    assert caching_pool.lookup(PROMPT, tenant_salt=7, extra_key=1) == 0
    other = caching_pool.add_request(tenant_salt=8)
    assert caching_pool.attach_prefix(other, PROMPT) == 0


def test_page_extra_keys_distinguish_multimodal_pages(caching_pool):
    r = caching_pool.add_request()
    caching_pool.extend(r, 17)
    caching_pool.commit(r, 17, PROMPT, np.array([0, 0, 42], np.uint64))
    caching_pool.free(r)
    assert caching_pool.lookup(PROMPT) == 8  # page 2's extra key differs
    assert caching_pool.lookup(PROMPT, page_extra_keys=[0, 0, 42]) == 16


def test_cache_committed_and_preempt_then_resume(caching_pool):
    r = caching_pool.add_request()
    caching_pool.extend(r, 17)
    caching_pool.commit(r, 17)  # no tokens: nothing keyed
    assert caching_pool.lookup(PROMPT) == 0
    caching_pool.cache_committed(r, PROMPT)
    assert caching_pool.full.stats.stored_pages == 4
    caching_pool.preempt(r, PROMPT)
    assert r not in caching_pool
    resumed = caching_pool.add_request()
    hit = caching_pool.attach_prefix(resumed, PROMPT)
    if hasattr(caching_pool, "swa"):  # SWA page 0 left the window before it was keyed: hit cut to it
        assert hit in (12, 16)
    else:
        assert hit == 16
    caching_pool.check_invariants()


def test_events_polled(caching_pool):
    caching_pool.enable_events()
    r = prefill(caching_pool, PROMPT)
    events = caching_pool.poll_events()
    stored = [e for e in events if e.kind == pk.KvEventKind.stored and e.layers == pk.AttentionKind.full]
    assert len(stored) == 4 and stored[0].parent_key is None and stored[1].parent_key == stored[0].key
    assert stored[0].tokens == list(range(100, 104))
    assert caching_pool.poll_events() == []
    caching_pool.free(r)
    caching_pool.reset_cache()
    assert [e.kind for e in caching_pool.poll_events()][-1] == pk.KvEventKind.cleared
    caching_pool.disable_events()
    prefill(caching_pool, PROMPT)
    assert caching_pool.poll_events() == []


def test_events_to_a_callback_after_each_call(caching_pool):
    seen = []
    caching_pool.enable_events(seen.append)
    prefill(caching_pool, PROMPT)
    assert len([e for e in seen if e.kind == pk.KvEventKind.stored]) >= 4
    assert caching_pool.poll_events() == []


def test_a_raising_callback_leaves_the_pool_consistent(caching_pool):
    def boom(event):
        raise RuntimeError("router down")
    caching_pool.enable_events(boom)
    r = caching_pool.add_request()
    caching_pool.extend(r, 17)
    with pytest.raises(RuntimeError, match="router down"):
        caching_pool.commit(r, 17, PROMPT)
    assert caching_pool.full.committed(r) == 17  # the call completed before the callback ran
    caching_pool.check_invariants()


def test_eviction_when_the_free_list_runs_out():
    pool = pk.LruFullPool(pages=9, page_size=4)  # 8 usable pages
    pool.enable_events()
    r = prefill(pool, PROMPT)  # 5 pages, 4 keyed
    pool.free(r)
    assert pool.full.cached_pages == 4 and pool.full.free_pages == 4
    s = pool.add_request()
    pool.extend(s, 24)  # 6 pages: the 4 free ones, then 2 evicted (the oldest: the chain's tail first)
    assert pool.full.stats.evicted_pages >= 2
    assert any(e.kind == pk.KvEventKind.removed for e in pool.poll_events())
    pool.check_invariants()


def test_retention_priorities():
    pool = pk.PriorityLruFullPool(pages=9, page_size=4)
    system = np.arange(8, dtype=np.int32)
    low = prefill(pool, np.concatenate([system, np.arange(50, 59, dtype=np.int32)]),
                  priority=0, prefix_tokens=8, prefix_priority=100)
    pool.free(low)
    s = pool.add_request()
    pool.extend(s, 24)  # evicts the priority-0 pages, keeps the system prompt's
    pool.free(s)
    assert pool.lookup(np.concatenate([system, [1]]).astype(np.int32)) == 8


def test_caching_hybrid_keeps_swa_pages_of_keyed_full_pages():
    h = pk.LruHybridPool(full_pages=32, swa_pages=32, page_size=4, window=8)
    r = prefill(h, PROMPT)  # keyed before the window slides: released SWA pages stay cached
    assert h.swa.cached_pages > 0
    assert h.swa.pages(r)[0] == 0
    h.free(r)
    s = h.add_request()
    assert h.attach_prefix(s, PROMPT) == 16
    assert h.swa.first_live_page(s) == pk.dead_pages(16, 8, 4)
    h.check_invariants()


# ---- keyed commit_many: each request's tokens in one batch call -------------------------------------

def keyed_batch(pool):
    """Three requests with 17, 9 and 4 tokens in flight; their token rows, 20 wide (a padded 2-D array)."""
    rs = [int(r) for r in pool.add_requests(3)]
    pool.extend_many(ids(*rs), np.array([17, 9, 4]))
    rows = np.stack([np.arange(100, 120), np.arange(200, 220), np.arange(300, 320)]).astype(np.int32)
    return rs, rows


def test_keyed_commit_many_equals_one_keyed_commit_per_request(caching_pool):
    rs, rows = keyed_batch(caching_pool)
    other = ALL_POOLS[type(caching_pool).__name__]()
    others, _ = keyed_batch(other)
    caching_pool.enable_events()
    other.enable_events()
    caching_pool.commit_many(ids(*rs), np.array([17, 8, 3]), tokens=rows)
    for r, n, row in zip(others, (17, 8, 3), rows):
        other.commit(r, n, row)
    assert digest(caching_pool, rs) == digest(other, others)
    assert [(e.kind, e.key, e.page) for e in caching_pool.poll_events()] == \
        [(e.kind, e.key, e.page) for e in other.poll_events()]
    assert caching_pool.full.stats.stored_pages == 4 + 2  # 16 of 17 and 8 of 8 tokens: whole pages only
    for r in rs:
        caching_pool.free(r)
    assert caching_pool.lookup(rows[0][:17]) == 16 and caching_pool.lookup(rows[1][:9]) == 8
    caching_pool.check_invariants()


def test_keyed_commit_many_takes_a_list_of_rows_or_one_count(caching_pool):
    rs, rows = keyed_batch(caching_pool)
    caching_pool.commit_many(ids(*rs), 4, tokens=[list(rows[0]), rows[1].astype(np.int64), rows[2][:4]])
    assert [caching_pool.full.committed(r) for r in rs] == [4, 4, 4]
    assert caching_pool.full.stats.stored_pages == 3
    caching_pool.extend_many(ids(*rs[:2]), np.array([4, 5]))
    caching_pool.commit_many(ids(*rs[:2]), np.array([4, 5]), tokens=rows[:2].astype(np.int64), page_extra_keys=None)
    assert [caching_pool.full.committed(r) for r in rs] == [8, 9, 4]
    assert caching_pool.full.stats.stored_pages == 5  # page 1 of each of the two
    caching_pool.extend(rs[0], 9)
    caching_pool.commit_many(ids(rs[0]), 9, tokens=None)  # None: the plain commit, nothing keyed
    assert caching_pool.full.committed(rs[0]) == 17 and caching_pool.full.stats.stored_pages == 5


def test_keyed_commit_many_page_extra_keys_per_request(caching_pool):
    rs, rows = keyed_batch(caching_pool)
    caching_pool.commit_many(ids(*rs), np.array([17, 9, 4]), tokens=rows,
                             page_extra_keys=[np.array([0, 0, 42], np.uint64), None, [5]])
    for r in rs:
        caching_pool.free(r)
    assert caching_pool.lookup(rows[0][:17]) == 8  # page 2's extra key differs
    assert caching_pool.lookup(rows[0][:17], page_extra_keys=[0, 0, 42]) == 16
    assert caching_pool.lookup(rows[1][:9]) == 8
    assert caching_pool.lookup(rows[2][:5]) == 0 and caching_pool.lookup(rows[2][:5], page_extra_keys=[5]) == 4


def test_keyed_commit_many_rejections_change_nothing(caching_pool):
    rs, rows = keyed_batch(caching_pool)
    before = digest(caching_pool, rs)
    short = [rows[0], rows[1][:7], rows[2]]  # request 1 commits 8 tokens: 2 whole pages need 8 ids
    with pytest.raises(pk.TokensTooShortError) as e:
        caching_pool.commit_many(ids(*rs), np.array([17, 8, 4]), tokens=short)
    assert e.value.index == 1 and e.value.code == "tokens_too_short"
    with pytest.raises(pk.CommitExceedsReservedError) as e:
        caching_pool.commit_many(ids(*rs), np.array([17, 8, 5]), tokens=rows)
    assert e.value.index == 2
    with pytest.raises(pk.DuplicateRequestError) as e:
        caching_pool.commit_many(ids(rs[0], rs[1], rs[0]), 1, tokens=rows)
    assert e.value.index == 2
    with pytest.raises(ValueError, match="tokens has 2 entries for a batch of 3 requests"):
        caching_pool.commit_many(ids(*rs), 1, tokens=rows[:2])
    with pytest.raises(ValueError, match="page_extra_keys has 1 entries for a batch of 3 requests"):
        caching_pool.commit_many(ids(*rs), 1, tokens=rows, page_extra_keys=[[1]])
    with pytest.raises(TypeError):
        caching_pool.commit_many(ids(*rs), 1, tokens="abc")
    assert digest(caching_pool, rs) == before
    assert caching_pool.full.stats.stored_pages == 0


def test_plain_pools_commit_many_takes_no_tokens():
    pool = pk.HybridPool(full_pages=40, swa_pages=40, page_size=4, window=8)
    r = pool.add_request()
    pool.extend(r, 4)
    with pytest.raises(TypeError):
        pool.commit_many(ids(r), 4, tokens=np.zeros((1, 4), np.int32))
    assert pool.full.tokens_in_flight(r) == 4
