"""Prefix reuse on the caching pools: attach, lookup, keyed commit, preempt, scopes, events, stats."""
import numpy as np
import pytest

import pagedkv as pk
from conftest import ids

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
