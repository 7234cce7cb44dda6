"""Every error class: its trigger beside the passing call nearest to it, the state unchanged after it."""
import numpy as np
import pytest

import pagedkv as pk
from conftest import digest, ids

CODES = ["out_of_full_pages", "out_of_swa_pages", "unknown_request", "negative_length", "length_overflow",
         "commit_exceeds_reserved", "truncate_past_length", "window_already_released", "invalid_page_size",
         "invalid_window", "invalid_pool_size", "page_size_mismatch", "buffer_too_small", "row_too_short",
         "duplicate_request", "cache_in_use", "invariant_violated", "request_not_empty", "invalid_attach",
         "tokens_too_short", "truncate_into_shared_page", "not_cached", "uncommitted_tokens", "device_error",
         "too_many_requests", "invalid_capacity", "length_mismatch", "out_of_chunked_pages",
         "invalid_chunk", "pool_not_empty"]


def class_of(code):
    name = "".join(w.capitalize() for w in code.split("_"))
    return getattr(pk, name if name.endswith("Error") else name + "Error")


@pytest.mark.parametrize("code", CODES)
def test_one_class_per_error_code_under_pagedkv_error(code):
    cls = class_of(code)
    assert issubclass(cls, pk.Error) and issubclass(pk.Error, Exception)
    assert cls.code == code and cls.__doc__
    assert cls.__module__ == "pagedkv"


def raises_unchanged(pool, requests, cls, call, *args, index=None):
    """call(*args) raises cls naming its code, with `index`, and leaves `pool` as it was."""
    before = digest(pool, requests)
    with pytest.raises(cls) as info:
        call(*args)
    assert info.value.code in str(info.value) and info.value.index == index
    assert digest(pool, requests) == before
    pool.check_invariants()


def small_hybrid():
    return pk.HybridPool(full_pages=6, swa_pages=4, page_size=4, window=8)


def test_out_of_pages_in_each_pool():
    h = small_hybrid()
    r = h.add_request()
    h.extend(r, 12)  # full: 3 of 5 pages, SWA: 3 of 3
    raises_unchanged(h, [r], pk.OutOfSwaPagesError, h.extend, r, 1)
    h.extend(r, 0)
    h.commit(r, 12)  # dead_pages(12, 8, 4) = 1: one SWA page back
    h.extend(r, 4)
    raises_unchanged(h, [r], pk.OutOfFullPagesError, h.extend, r, 12)
    raises_unchanged(h, [r], pk.OutOfFullPagesError, h.add_committed_request, 100)


def test_request_and_length_errors(hybrid):
    r = hybrid.add_request()
    hybrid.extend(r, 5)
    raises_unchanged(hybrid, [r], pk.UnknownRequestError, hybrid.extend, r + 1, 1)
    raises_unchanged(hybrid, [r], pk.UnknownRequestError, hybrid.free, 7 << 32)
    raises_unchanged(hybrid, [r], pk.NegativeLengthError, hybrid.extend, r, -1)
    raises_unchanged(hybrid, [r], pk.NegativeLengthError, hybrid.add_committed_request, -4)
    raises_unchanged(hybrid, [r], pk.LengthOverflowError, hybrid.extend, r, 4 * (2**31 - 1))
    raises_unchanged(hybrid, [r], pk.CommitExceedsReservedError, hybrid.commit, r, 6)
    hybrid.commit(r, 5)
    raises_unchanged(hybrid, [r], pk.TruncatePastLengthError, hybrid.truncate, r, 6)
    hybrid.extend(r, 11)
    hybrid.commit(r, 11)  # 16 committed: SWA pages 0 and 1 released
    raises_unchanged(hybrid, [r], pk.WindowAlreadyReleasedError, hybrid.truncate, r, 11)
    hybrid.truncate(r, 15)  # dead_pages(15, 8, 4) = 2: the window keeps what it released
    hybrid.check_invariants()


def test_create_errors():
    with pytest.raises(pk.InvalidPageSizeError):
        pk.FullPool(pages=8, page_size=0)
    with pytest.raises(pk.InvalidPoolSizeError):
        pk.FullPool(pages=1, page_size=4)
    with pytest.raises(pk.InvalidPoolSizeError):
        pk.SwaPool(pages=2**31, page_size=4, window=8)
    with pytest.raises(pk.InvalidWindowError):
        pk.SwaPool(pages=8, page_size=4, window=0)
    with pytest.raises(pk.InvalidWindowError):
        pk.HybridPool(full_pages=8, swa_pages=8, page_size=4, window=0)
    pk.HybridPool(full_pages=2, swa_pages=2, page_size=1, window=1)  # the smallest valid one


def test_table_buffer_errors_write_nothing(hybrid):
    a, b = hybrid.add_requests(2)
    hybrid.extend_many(ids(a, b), np.array([9, 4]))
    indptr, indices, last = (np.full(3, -1, np.int32), np.full(3, -1, np.int32), np.full(2, -1, np.int32))
    with pytest.raises(pk.BufferTooSmallError):
        hybrid.full.emit_csr(ids(a, b), indptr, indices, last)  # 4 pages, room for 3
    assert (indptr == -1).all() and (indices == -1).all() and (last == -1).all()
    assert hybrid.full.emit_csr(ids(a, b), indptr, np.zeros(4, np.int32), last) == 4
    table = np.full((2, 2), -1, np.int32)
    with pytest.raises(pk.RowTooShortError):
        hybrid.full.emit_dense(ids(a, b), table)  # a holds 3 pages
    assert (table == -1).all()
    with pytest.raises(pk.BufferTooSmallError):
        hybrid.full.emit_dense(ids(a, b), np.zeros((1, 3), np.int32))
    with pytest.raises(pk.BufferTooSmallError):
        hybrid.full.emit_dense(ids(a, b), np.zeros((2, 3), np.int32), np.zeros(1, np.int32))
    slots = np.full(12, -1, np.int64)
    with pytest.raises(pk.BufferTooSmallError):
        hybrid.swa.emit_slot_mapping(ids(a, b), slots)
    assert (slots == -1).all()
    with pytest.raises(pk.UnknownRequestError):
        hybrid.swa.emit_slot_mapping(ids(a, 99), np.zeros(20, np.int64))
    assert hybrid.swa.emit_slot_mapping(ids(a, b), np.zeros(13, np.int64)) == 13


def test_batch_errors_name_the_position_and_change_nothing(hybrid):
    a, b, c = (int(r) for r in hybrid.add_requests(3))
    hybrid.extend(a, 8)
    live = [a, b, c]
    raises_unchanged(hybrid, live, pk.DuplicateRequestError, hybrid.extend_many, ids(a, b, a), 1, index=2)
    raises_unchanged(hybrid, live, pk.UnknownRequestError, hybrid.extend_many, ids(a, 77), 1, index=1)
    raises_unchanged(hybrid, live, pk.NegativeLengthError, hybrid.extend_many, ids(a, b), np.array([1, -1]),
                     index=1)
    # each request alone fits, the batch together does not: index None, nothing reserved
    raises_unchanged(hybrid, live, pk.OutOfSwaPagesError, hybrid.extend_many, ids(b, c), 28)
    raises_unchanged(hybrid, live, pk.CommitExceedsReservedError, hybrid.commit_many, ids(a, b),
                     np.array([8, 1]), index=1)
    raises_unchanged(hybrid, live, pk.DuplicateRequestError, hybrid.commit_many, ids(a, a), 0, index=1)
    raises_unchanged(hybrid, live, pk.TruncatePastLengthError, hybrid.truncate_many, ids(a, b),
                     np.array([2, 1]), index=1)
    raises_unchanged(hybrid, live, pk.DuplicateRequestError, hybrid.free_many, ids(c, c), index=1)
    raises_unchanged(hybrid, live, pk.UnknownRequestError, hybrid.free_many, ids(c, 5 << 32), index=1)
    hybrid.extend_many(ids(b, c), 12)  # the passing control


def test_output_buffers_are_never_converted(hybrid):
    r = hybrid.add_request()
    hybrid.extend(r, 5)
    with pytest.raises(TypeError):  # int64 where int32 is written: no silent temporary copy
        hybrid.full.emit_csr(ids(r), np.zeros(2, np.int64), np.zeros(4, np.int32), np.zeros(1, np.int32))
    with pytest.raises(TypeError):  # not contiguous
        hybrid.full.emit_slot_mapping(ids(r), np.zeros(20, np.int64)[::2])
    with pytest.raises(TypeError):
        hybrid.full.emit_dense(ids(r), np.zeros((2, 8), np.int32)[:, ::2])


def test_prefix_cache_errors():
    h = pk.LruHybridPool(full_pages=16, swa_pages=16, page_size=4, window=8)
    tokens = np.arange(12, dtype=np.int32)
    r = h.add_request()
    h.extend(r, 12)
    raises_unchanged(h, [r], pk.TokensTooShortError, h.commit, r, 12, tokens[:7])
    h.commit(r, 12, tokens)  # keys pages 0-2 first, so SWA page 0 leaving the window stays cached
    raises_unchanged(h, [r], pk.TokensTooShortError, h.cache_committed, r, tokens[:7])
    raises_unchanged(h, [r], pk.RequestNotEmptyError, h.attach_prefix, r, tokens)
    raises_unchanged(h, [r], pk.UnknownRequestError, h.attach_prefix, 3, tokens)
    raises_unchanged(h, [r], pk.CacheInUseError, h.reset_cache)
    s = h.add_request()
    assert h.attach_prefix(s, tokens) == 8  # pages 0 and 1 shared, never the last token
    h.extend(s, 1)
    raises_unchanged(h, [r, s], pk.TruncateIntoSharedPageError, h.truncate, s, 6)
    h.truncate(s, 8)
    h.free_many(ids(r, s))
    h.reset_cache()
    h.check_invariants()
