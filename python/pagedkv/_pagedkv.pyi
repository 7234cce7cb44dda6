"""
pagedkv: paged KV-cache memory for LLM engines mixing full-attention and sliding-window layers.
"""

import enum
from typing import Annotated, overload

import numpy
from collections.abc import Callable, Sequence
from numpy.typing import NDArray
import torch

from pagedkv import (
    BufferTooSmallError as BufferTooSmallError,
    CacheInUseError as CacheInUseError,
    CommitExceedsReservedError as CommitExceedsReservedError,
    DeviceError as DeviceError,
    DuplicateRequestError as DuplicateRequestError,
    Error as Error,
    InvalidAttachError as InvalidAttachError,
    InvalidCapacityError as InvalidCapacityError,
    InvalidPageSizeError as InvalidPageSizeError,
    InvalidPoolSizeError as InvalidPoolSizeError,
    InvalidWindowError as InvalidWindowError,
    InvariantViolatedError as InvariantViolatedError,
    LengthMismatchError as LengthMismatchError,
    LengthOverflowError as LengthOverflowError,
    NegativeLengthError as NegativeLengthError,
    NotCachedError as NotCachedError,
    OutOfFullPagesError as OutOfFullPagesError,
    OutOfSwaPagesError as OutOfSwaPagesError,
    PageSizeMismatchError as PageSizeMismatchError,
    RequestNotEmptyError as RequestNotEmptyError,
    RowTooShortError as RowTooShortError,
    TokensTooShortError as TokensTooShortError,
    TooManyRequestsError as TooManyRequestsError,
    TruncateIntoSharedPageError as TruncateIntoSharedPageError,
    TruncatePastLengthError as TruncatePastLengthError,
    UncommittedTokensError as UncommittedTokensError,
    UnknownRequestError as UnknownRequestError,
    WindowAlreadyReleasedError as WindowAlreadyReleasedError
)


# Token ids (or page extra keys): a 1-D integer array or a list of ints.
TokenIds = NDArray[numpy.integer] | Sequence[int]
ExtraKeys = NDArray[numpy.integer] | Sequence[int]
# One row per request of a batch: a 2-D integer array, or a sequence of rows.
BatchTokenIds = NDArray[numpy.integer] | Sequence[TokenIds]
BatchExtraKeys = NDArray[numpy.integer] | Sequence[ExtraKeys | None]

class AttentionKind(enum.Enum):
    """The attention a pool (and every table it emits) serves."""

    full = 0

    sliding = 1

class CacheStats:
    """Prefix-cache counters of one pool, from its creation."""

    @property
    def lookups(self) -> int:
        """Prefix attaches (a hit of 0 tokens counts)."""

    @property
    def queried_tokens(self) -> int:
        """Prompt tokens those attaches looked up."""

    @property
    def hit_tokens(self) -> int:
        """Tokens they attached from the cache."""

    @property
    def stored_pages(self) -> int:
        """Pages given a content key."""

    @property
    def evicted_pages(self) -> int:
        """Cached pages whose content was dropped."""

    @property
    def hit_rate(self) -> float:
        """hit_tokens / queried_tokens, 0 before any query."""

    def __eq__(self, arg: CacheStats, /) -> bool: ...

    def __repr__(self) -> str: ...

class KvEventKind(enum.Enum):
    """What a KV event reports."""

    stored = 0
    """A page's content became findable under `key`."""

    removed = 1
    """`key` is no longer findable in these layers."""

    cleared = 2
    """Every key of the pool was dropped (reset_cache)."""

class KvEvent:
    """One prefix-cache change, for a KV-aware router."""

    @property
    def kind(self) -> KvEventKind: ...

    @property
    def layers(self) -> AttentionKind:
        """Which attention layers gained or lost the KV."""

    @property
    def key(self) -> int: ...

    @property
    def parent_key(self) -> int | None:
        """The previous page's key, None for the first page of a sequence."""

    @property
    def page(self) -> int:
        """The page that held (or holds) the content."""

    @property
    def tokens(self) -> list[int]:
        """The page's token ids (`stored` only)."""

    @property
    def tenant_salt(self) -> int: ...

    @property
    def extra_key(self) -> int: ...

    @property
    def page_extra_key(self) -> int: ...

    def __repr__(self) -> str: ...

class FullView:
    """
    The full-attention pool of a pool object (`pool.full`): page lists and full-layer tables.
    """

    @property
    def kind(self) -> AttentionKind:
        """The attention kind of every table this view emits."""

    @property
    def page_size(self) -> int:
        """Tokens per page (P)."""

    @property
    def window(self) -> int:
        """Window W in tokens (0 for a full-attention pool)."""

    @property
    def num_pages(self) -> int:
        """Pages in the pool, the null page 0 included."""

    @property
    def free_pages(self) -> int:
        """Pages on the free list."""

    @property
    def cached_pages(self) -> int:
        """
        Pages no request owns whose content is kept for reuse (0 without a cache).
        """

    @property
    def available_pages(self) -> int:
        """Pages an allocation can take: free, then cached."""

    @property
    def used_pages(self) -> int:
        """Pages owned by at least one request."""

    @property
    def live_requests(self) -> int:
        """Requests added and not yet freed."""

    @property
    def stats(self) -> CacheStats:
        """This pool's prefix-cache counters (a copy)."""

    def contains(self, request: int) -> bool:
        """Whether the request is live."""

    def __contains__(self, arg: int, /) -> bool: ...

    def length(self, request: int) -> int:
        """Tokens the request holds, in flight included."""

    def committed(self, request: int) -> int:
        """Committed tokens of the request."""

    def tokens_in_flight(self, request: int) -> int:
        """Tokens reserved by extend and not yet committed."""

    def first_live_page(self, request: int) -> int:
        """Index of the first page that is not the null page (0 for full pools)."""

    def pages_held(self, request: int) -> int:
        """Pages the request holds (null entries excluded)."""

    def pages(self, request: int) -> Annotated[NDArray[numpy.int32], dict(shape=(None,))]:
        """
        A copy of the request's page list: entry i holds tokens [i*P, (i+1)*P); the null page 0 before first_live_page.
        """

    def ref_count(self, page: int) -> int:
        """Requests holding the page."""

    def is_cached(self, page: int) -> bool:
        """Whether the page is in the prefix cache (owned by no request)."""

    def emit_csr(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], kv_indptr: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu')], kv_indices: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu')], kv_last_page_len: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu')]) -> int:
        """
        Writes the batch's CSR table (FlashInfer's kv_indptr[B+1], kv_indices[nnz], kv_last_page_len[B]) into the caller's int32 buffers; returns nnz. SWA rows list only the in-window pages. Raises UnknownRequestError or BufferTooSmallError with nothing written.
        """

    def emit_dense(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], block_table: Annotated[NDArray[numpy.int32], dict(shape=(None, None), order='C', device='cpu')], seq_lens: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu')] | None = None) -> None:
        """
        Writes the batch's dense block table (row b = the request's pages, then null pages) into the caller's int32 [rows >= B, row_pages] buffer, and its lengths in tokens into seq_lens[B] when given (FlashAttention's cache_seqlens, TensorRT-LLM). Raises UnknownRequestError, BufferTooSmallError or RowTooShortError with nothing written.
        """

    def emit_slot_mapping(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], slot_mapping: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu')]) -> int:
        """
        Writes the KV slot (page * P + offset) of every in-flight token of the batch, request by request, into the caller's int64 buffer (vLLM's slot_mapping); returns the count. Raises UnknownRequestError or BufferTooSmallError with nothing written.
        """

    def csr_nnz(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> int:
        """Entries emit_csr would write into kv_indices."""

    def slot_count(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> int:
        """Slots emit_slot_mapping would write (the batch's tokens in flight)."""

    def csr(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> tuple[Annotated[NDArray[numpy.int32], dict(shape=(None,))], Annotated[NDArray[numpy.int32], dict(shape=(None,))], Annotated[NDArray[numpy.int32], dict(shape=(None,))]]:
        """emit_csr into new arrays: (kv_indptr, kv_indices, kv_last_page_len)."""

    def dense(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], row_pages: int | None = None) -> tuple[Annotated[NDArray[numpy.int32], dict(shape=(None, None))], Annotated[NDArray[numpy.int32], dict(shape=(None,))]]:
        """
        emit_dense into new arrays: (block_table [B, row_pages], seq_lens [B]); row_pages defaults to the longest page list of the batch.
        """

    def slot_mapping(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> Annotated[NDArray[numpy.int64], dict(shape=(None,))]:
        """emit_slot_mapping into a new int64 array."""

class SwaView:
    """
    The sliding-window pool of a pool object (`pool.swa`): page lists and SWA-layer tables.
    """

    @property
    def kind(self) -> AttentionKind:
        """The attention kind of every table this view emits."""

    @property
    def page_size(self) -> int:
        """Tokens per page (P)."""

    @property
    def window(self) -> int:
        """Window W in tokens (0 for a full-attention pool)."""

    @property
    def num_pages(self) -> int:
        """Pages in the pool, the null page 0 included."""

    @property
    def free_pages(self) -> int:
        """Pages on the free list."""

    @property
    def cached_pages(self) -> int:
        """
        Pages no request owns whose content is kept for reuse (0 without a cache).
        """

    @property
    def available_pages(self) -> int:
        """Pages an allocation can take: free, then cached."""

    @property
    def used_pages(self) -> int:
        """Pages owned by at least one request."""

    @property
    def live_requests(self) -> int:
        """Requests added and not yet freed."""

    @property
    def stats(self) -> CacheStats:
        """This pool's prefix-cache counters (a copy)."""

    def contains(self, request: int) -> bool:
        """Whether the request is live."""

    def __contains__(self, arg: int, /) -> bool: ...

    def length(self, request: int) -> int:
        """Tokens the request holds, in flight included."""

    def committed(self, request: int) -> int:
        """Committed tokens of the request."""

    def tokens_in_flight(self, request: int) -> int:
        """Tokens reserved by extend and not yet committed."""

    def first_live_page(self, request: int) -> int:
        """Index of the first page that is not the null page (0 for full pools)."""

    def pages_held(self, request: int) -> int:
        """Pages the request holds (null entries excluded)."""

    def pages(self, request: int) -> Annotated[NDArray[numpy.int32], dict(shape=(None,))]:
        """
        A copy of the request's page list: entry i holds tokens [i*P, (i+1)*P); the null page 0 before first_live_page.
        """

    def ref_count(self, page: int) -> int:
        """Requests holding the page."""

    def is_cached(self, page: int) -> bool:
        """Whether the page is in the prefix cache (owned by no request)."""

    def emit_csr(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], kv_indptr: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu')], kv_indices: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu')], kv_last_page_len: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu')]) -> int:
        """
        Writes the batch's CSR table (FlashInfer's kv_indptr[B+1], kv_indices[nnz], kv_last_page_len[B]) into the caller's int32 buffers; returns nnz. SWA rows list only the in-window pages. Raises UnknownRequestError or BufferTooSmallError with nothing written.
        """

    def emit_dense(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], block_table: Annotated[NDArray[numpy.int32], dict(shape=(None, None), order='C', device='cpu')], seq_lens: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu')] | None = None) -> None:
        """
        Writes the batch's dense block table (row b = the request's pages, then null pages) into the caller's int32 [rows >= B, row_pages] buffer, and its lengths in tokens into seq_lens[B] when given (FlashAttention's cache_seqlens, TensorRT-LLM). Raises UnknownRequestError, BufferTooSmallError or RowTooShortError with nothing written.
        """

    def emit_slot_mapping(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], slot_mapping: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu')]) -> int:
        """
        Writes the KV slot (page * P + offset) of every in-flight token of the batch, request by request, into the caller's int64 buffer (vLLM's slot_mapping); returns the count. Raises UnknownRequestError or BufferTooSmallError with nothing written.
        """

    def csr_nnz(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> int:
        """Entries emit_csr would write into kv_indices."""

    def slot_count(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> int:
        """Slots emit_slot_mapping would write (the batch's tokens in flight)."""

    def csr(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> tuple[Annotated[NDArray[numpy.int32], dict(shape=(None,))], Annotated[NDArray[numpy.int32], dict(shape=(None,))], Annotated[NDArray[numpy.int32], dict(shape=(None,))]]:
        """emit_csr into new arrays: (kv_indptr, kv_indices, kv_last_page_len)."""

    def dense(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], row_pages: int | None = None) -> tuple[Annotated[NDArray[numpy.int32], dict(shape=(None, None))], Annotated[NDArray[numpy.int32], dict(shape=(None,))]]:
        """
        emit_dense into new arrays: (block_table [B, row_pages], seq_lens [B]); row_pages defaults to the longest page list of the batch.
        """

    def slot_mapping(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> Annotated[NDArray[numpy.int64], dict(shape=(None,))]:
        """emit_slot_mapping into a new int64 array."""

class FullPool:
    """A pool for full-attention layers (no prefix cache)."""

    def __init__(self, *, pages: int, page_size: int) -> None:
        """
        A full-attention pool of `pages` pages (the null page 0 included) of page_size tokens. Raises InvalidPoolSizeError, InvalidPageSizeError.
        """

    def add_request(self) -> int:
        """A new empty request; returns its id (an int)."""

    def add_requests(self, count: int) -> Annotated[NDArray[numpy.uint64], dict(shape=(None,))]:
        """`count` new empty requests as a uint64 array of ids."""

    def commit(self, request: int, n: int) -> None:
        """
        Of the tokens in flight, the first n become committed and the rest are dropped; SWA pools release the pages that fell out of the window. Raises UnknownRequestError, NegativeLengthError, CommitExceedsReservedError.
        """

    def extend(self, request: int, n: int) -> None:
        """
        Reserves n more tokens (uncommitted) and the pages they cross into, evicting cached pages when the free list runs out. Raises UnknownRequestError, NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def truncate(self, request: int, length: int) -> None:
        """
        Rolls the request back to `length` tokens (committed ones included). Raises UnknownRequestError, NegativeLengthError, TruncatePastLengthError, WindowAlreadyReleasedError, TruncateIntoSharedPageError.
        """

    def free(self, request: int) -> None:
        """
        Releases every page of the request and retires its id. Raises UnknownRequestError.
        """

    def add_committed_request(self, length: int) -> int:
        """
        A new request holding `length` committed tokens whose KV arrives from elsewhere (disaggregated prefill). Raises NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def contains(self, request: int) -> bool:
        """Whether the request is live."""

    def __contains__(self, arg: int, /) -> bool: ...

    def check_invariants(self) -> None:
        """
        Checks every invariant of the pool (O(pages)); raises InvariantViolatedError naming the first one broken. For tests and debugging.
        """

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        extend(requests[i], counts[i]) for the whole batch, or for none of it: the batch is checked first (per request, then the pages of all of them together). `counts` is an int array or one int for all. Errors as extend, plus DuplicateRequestError; the exception's `index` is the batch position (None for a shortage of pages).
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        commit(requests[i], counts[i]) for the whole batch, or for none of it. Errors as commit, plus DuplicateRequestError.
        """

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: int) -> None: ...

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        truncate(requests[i], lengths[i]) for the whole batch, or for none of it; each request is checked against the state before the call. Errors as truncate, plus DuplicateRequestError.
        """

    def free_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        free(r) for every request of the batch, or for none. Raises UnknownRequestError, DuplicateRequestError.
        """

    @property
    def full(self) -> FullView:
        """This pool as a FullView: page lists, stats and full-layer tables."""

    def device_tables(self, *, max_requests: int, max_batch: int, max_pages_per_request: int, max_new_tokens: int, max_writes: int, captured_delta_bytes: int = 65536, full_rows: bool = False) -> DeviceTables:
        """
        This pool's page tables in device memory (a DeviceTables, on the current CUDA device), already in step with the pool: capacities as table_capacity (live requests, batch rows, pages per row, tokens in flight per step, writes per delta). captured_delta_bytes: what a CUDA-graph-captured sync copies. full_rows=True re-reads every live page at each stage (exact after any history; the default re-reads only past the committed prefix, docs/device_tables.md). Raises InvalidCapacityError, BufferTooSmallError or RowTooShortError (the pool's live requests exceed the capacity), DeviceError (no CUDA device, or an allocation failed).
        """

class LruFullPool:
    """
    A full-attention pool whose released keyed pages stay cached, evicted least recently used first.
    """

    def __init__(self, *, pages: int, page_size: int) -> None:
        """
        A full-attention pool of `pages` pages (the null page 0 included) of page_size tokens. Raises InvalidPoolSizeError, InvalidPageSizeError.
        """

    def add_request(self, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> int:
        """
        A new empty request. Its pages are cached under (tenant_salt, extra_key): only requests of the same scope share them. Released pages wholly inside the first prefix_tokens tokens get prefix_priority, the others priority (priority LRU: 0 evicted first, 100 last).
        """

    def add_requests(self, count: int, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> Annotated[NDArray[numpy.uint64], dict(shape=(None,))]:
        """`count` new requests as a uint64 array, each as add_request(...)."""

    def extend(self, request: int, n: int) -> None:
        """
        Reserves n more tokens (uncommitted) and the pages they cross into, evicting cached pages when the free list runs out. Raises UnknownRequestError, NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def truncate(self, request: int, length: int) -> None:
        """
        Rolls the request back to `length` tokens (committed ones included). Raises UnknownRequestError, NegativeLengthError, TruncatePastLengthError, WindowAlreadyReleasedError, TruncateIntoSharedPageError.
        """

    def free(self, request: int) -> None:
        """
        Releases every page of the request and retires its id. Raises UnknownRequestError.
        """

    def add_committed_request(self, length: int) -> int:
        """
        A new request holding `length` committed tokens whose KV arrives from elsewhere (disaggregated prefill). Raises NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def contains(self, request: int) -> bool:
        """Whether the request is live."""

    def __contains__(self, arg: int, /) -> bool: ...

    def check_invariants(self) -> None:
        """
        Checks every invariant of the pool (O(pages)); raises InvariantViolatedError naming the first one broken. For tests and debugging.
        """

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        extend(requests[i], counts[i]) for the whole batch, or for none of it: the batch is checked first (per request, then the pages of all of them together). `counts` is an int array or one int for all. Errors as extend, plus DuplicateRequestError; the exception's `index` is the batch position (None for a shortage of pages).
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        commit(requests[i], counts[i]) for the whole batch, or for none of it. Errors as commit, plus DuplicateRequestError.
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int, tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None:
        """
        commit(requests[i], counts[i], tokens[i], page_extra_keys[i]) for the whole batch, or for none of it. `tokens`: a 2-D integer array (row i: requests[i]'s token ids from 0, read in place) or a sequence of one 1-D array / list per request; page_extra_keys likewise (None: none). Errors as the keyed commit, plus DuplicateRequestError; ValueError when tokens has not one row per request.
        """

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: int) -> None: ...

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        truncate(requests[i], lengths[i]) for the whole batch, or for none of it; each request is checked against the state before the call. Errors as truncate, plus DuplicateRequestError.
        """

    def free_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        free(r) for every request of the batch, or for none. Raises UnknownRequestError, DuplicateRequestError.
        """

    @property
    def full(self) -> FullView:
        """This pool as a FullView: page lists, stats and full-layer tables."""

    def attach_prefix(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Attaches to the empty request the longest cached prefix of `tokens` (its prompt), in whole pages and never the last token; returns the hit in tokens, which the request then holds, committed. page_extra_keys[i] is page i's extra identity (a multimodal item hash). Raises UnknownRequestError, RequestNotEmptyError.
        """

    def lookup(self, tokens: TokenIds, *, tenant_salt: int = 0, extra_key: int = 0, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Tokens attach_prefix would hit now for a request of this scope; changes nothing.
        """

    def cache_committed(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages so later requests can hit them; `tokens` are its token ids from position 0. Raises UnknownRequestError, TokensTooShortError.
        """

    def commit(self, request: int, n: int, tokens: TokenIds | None = None, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Commits n of the tokens in flight (see the plain pools' commit). With `tokens` (the request's token ids from 0, covering the new committed length) it first keys the whole pages the commit completes, so SWA pages leaving the window stay cached. Raises UnknownRequestError, NegativeLengthError, CommitExceedsReservedError, TokensTooShortError.
        """

    def preempt(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages, then frees it: a resumed request (same tokens, same scope) hits them. Raises UnknownRequestError, TokensTooShortError.
        """

    def reset_cache(self) -> None:
        """
        Empties the cache. Raises CacheInUseError while any request holds a page.
        """

    def enable_events(self, callback: Callable[[KvEvent], None] | None = None) -> None:
        """
        Records KV events (stored / removed / cleared) from now on. With a callback, each call passes its events to callback(event) after it returns; without one they wait for poll_events().
        """

    def disable_events(self) -> None:
        """
        Stops recording KV events (events not polled yet stay until poll_events()).
        """

    def poll_events(self) -> list[KvEvent]:
        """
        The events recorded since the last poll, oldest first (a list of KvEvent).
        """

    def device_tables(self, *, max_requests: int, max_batch: int, max_pages_per_request: int, max_new_tokens: int, max_writes: int, captured_delta_bytes: int = 65536, full_rows: bool = False) -> DeviceTables:
        """
        This pool's page tables in device memory (a DeviceTables, on the current CUDA device), already in step with the pool: capacities as table_capacity (live requests, batch rows, pages per row, tokens in flight per step, writes per delta). captured_delta_bytes: what a CUDA-graph-captured sync copies. full_rows=True re-reads every live page at each stage (exact after any history; the default re-reads only past the committed prefix, docs/device_tables.md). Raises InvalidCapacityError, BufferTooSmallError or RowTooShortError (the pool's live requests exceed the capacity), DeviceError (no CUDA device, or an allocation failed).
        """

class PriorityLruFullPool:
    """
    A caching full-attention pool evicting by retention priority (0 first), then least recently used.
    """

    def __init__(self, *, pages: int, page_size: int) -> None:
        """
        A full-attention pool of `pages` pages (the null page 0 included) of page_size tokens. Raises InvalidPoolSizeError, InvalidPageSizeError.
        """

    def add_request(self, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> int:
        """
        A new empty request. Its pages are cached under (tenant_salt, extra_key): only requests of the same scope share them. Released pages wholly inside the first prefix_tokens tokens get prefix_priority, the others priority (priority LRU: 0 evicted first, 100 last).
        """

    def add_requests(self, count: int, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> Annotated[NDArray[numpy.uint64], dict(shape=(None,))]:
        """`count` new requests as a uint64 array, each as add_request(...)."""

    def extend(self, request: int, n: int) -> None:
        """
        Reserves n more tokens (uncommitted) and the pages they cross into, evicting cached pages when the free list runs out. Raises UnknownRequestError, NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def truncate(self, request: int, length: int) -> None:
        """
        Rolls the request back to `length` tokens (committed ones included). Raises UnknownRequestError, NegativeLengthError, TruncatePastLengthError, WindowAlreadyReleasedError, TruncateIntoSharedPageError.
        """

    def free(self, request: int) -> None:
        """
        Releases every page of the request and retires its id. Raises UnknownRequestError.
        """

    def add_committed_request(self, length: int) -> int:
        """
        A new request holding `length` committed tokens whose KV arrives from elsewhere (disaggregated prefill). Raises NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def contains(self, request: int) -> bool:
        """Whether the request is live."""

    def __contains__(self, arg: int, /) -> bool: ...

    def check_invariants(self) -> None:
        """
        Checks every invariant of the pool (O(pages)); raises InvariantViolatedError naming the first one broken. For tests and debugging.
        """

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        extend(requests[i], counts[i]) for the whole batch, or for none of it: the batch is checked first (per request, then the pages of all of them together). `counts` is an int array or one int for all. Errors as extend, plus DuplicateRequestError; the exception's `index` is the batch position (None for a shortage of pages).
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        commit(requests[i], counts[i]) for the whole batch, or for none of it. Errors as commit, plus DuplicateRequestError.
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int, tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None:
        """
        commit(requests[i], counts[i], tokens[i], page_extra_keys[i]) for the whole batch, or for none of it. `tokens`: a 2-D integer array (row i: requests[i]'s token ids from 0, read in place) or a sequence of one 1-D array / list per request; page_extra_keys likewise (None: none). Errors as the keyed commit, plus DuplicateRequestError; ValueError when tokens has not one row per request.
        """

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: int) -> None: ...

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        truncate(requests[i], lengths[i]) for the whole batch, or for none of it; each request is checked against the state before the call. Errors as truncate, plus DuplicateRequestError.
        """

    def free_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        free(r) for every request of the batch, or for none. Raises UnknownRequestError, DuplicateRequestError.
        """

    @property
    def full(self) -> FullView:
        """This pool as a FullView: page lists, stats and full-layer tables."""

    def attach_prefix(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Attaches to the empty request the longest cached prefix of `tokens` (its prompt), in whole pages and never the last token; returns the hit in tokens, which the request then holds, committed. page_extra_keys[i] is page i's extra identity (a multimodal item hash). Raises UnknownRequestError, RequestNotEmptyError.
        """

    def lookup(self, tokens: TokenIds, *, tenant_salt: int = 0, extra_key: int = 0, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Tokens attach_prefix would hit now for a request of this scope; changes nothing.
        """

    def cache_committed(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages so later requests can hit them; `tokens` are its token ids from position 0. Raises UnknownRequestError, TokensTooShortError.
        """

    def commit(self, request: int, n: int, tokens: TokenIds | None = None, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Commits n of the tokens in flight (see the plain pools' commit). With `tokens` (the request's token ids from 0, covering the new committed length) it first keys the whole pages the commit completes, so SWA pages leaving the window stay cached. Raises UnknownRequestError, NegativeLengthError, CommitExceedsReservedError, TokensTooShortError.
        """

    def preempt(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages, then frees it: a resumed request (same tokens, same scope) hits them. Raises UnknownRequestError, TokensTooShortError.
        """

    def reset_cache(self) -> None:
        """
        Empties the cache. Raises CacheInUseError while any request holds a page.
        """

    def enable_events(self, callback: Callable[[KvEvent], None] | None = None) -> None:
        """
        Records KV events (stored / removed / cleared) from now on. With a callback, each call passes its events to callback(event) after it returns; without one they wait for poll_events().
        """

    def disable_events(self) -> None:
        """
        Stops recording KV events (events not polled yet stay until poll_events()).
        """

    def poll_events(self) -> list[KvEvent]:
        """
        The events recorded since the last poll, oldest first (a list of KvEvent).
        """

    def device_tables(self, *, max_requests: int, max_batch: int, max_pages_per_request: int, max_new_tokens: int, max_writes: int, captured_delta_bytes: int = 65536, full_rows: bool = False) -> DeviceTables:
        """
        This pool's page tables in device memory (a DeviceTables, on the current CUDA device), already in step with the pool: capacities as table_capacity (live requests, batch rows, pages per row, tokens in flight per step, writes per delta). captured_delta_bytes: what a CUDA-graph-captured sync copies. full_rows=True re-reads every live page at each stage (exact after any history; the default re-reads only past the committed prefix, docs/device_tables.md). Raises InvalidCapacityError, BufferTooSmallError or RowTooShortError (the pool's live requests exceed the capacity), DeviceError (no CUDA device, or an allocation failed).
        """

class S3FifoFullPool:
    """A caching full-attention pool evicting by adaptive S3-FIFO."""

    def __init__(self, *, pages: int, page_size: int) -> None:
        """
        A full-attention pool of `pages` pages (the null page 0 included) of page_size tokens. Raises InvalidPoolSizeError, InvalidPageSizeError.
        """

    def add_request(self, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> int:
        """
        A new empty request. Its pages are cached under (tenant_salt, extra_key): only requests of the same scope share them. Released pages wholly inside the first prefix_tokens tokens get prefix_priority, the others priority (priority LRU: 0 evicted first, 100 last).
        """

    def add_requests(self, count: int, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> Annotated[NDArray[numpy.uint64], dict(shape=(None,))]:
        """`count` new requests as a uint64 array, each as add_request(...)."""

    def extend(self, request: int, n: int) -> None:
        """
        Reserves n more tokens (uncommitted) and the pages they cross into, evicting cached pages when the free list runs out. Raises UnknownRequestError, NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def truncate(self, request: int, length: int) -> None:
        """
        Rolls the request back to `length` tokens (committed ones included). Raises UnknownRequestError, NegativeLengthError, TruncatePastLengthError, WindowAlreadyReleasedError, TruncateIntoSharedPageError.
        """

    def free(self, request: int) -> None:
        """
        Releases every page of the request and retires its id. Raises UnknownRequestError.
        """

    def add_committed_request(self, length: int) -> int:
        """
        A new request holding `length` committed tokens whose KV arrives from elsewhere (disaggregated prefill). Raises NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def contains(self, request: int) -> bool:
        """Whether the request is live."""

    def __contains__(self, arg: int, /) -> bool: ...

    def check_invariants(self) -> None:
        """
        Checks every invariant of the pool (O(pages)); raises InvariantViolatedError naming the first one broken. For tests and debugging.
        """

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        extend(requests[i], counts[i]) for the whole batch, or for none of it: the batch is checked first (per request, then the pages of all of them together). `counts` is an int array or one int for all. Errors as extend, plus DuplicateRequestError; the exception's `index` is the batch position (None for a shortage of pages).
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        commit(requests[i], counts[i]) for the whole batch, or for none of it. Errors as commit, plus DuplicateRequestError.
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int, tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None:
        """
        commit(requests[i], counts[i], tokens[i], page_extra_keys[i]) for the whole batch, or for none of it. `tokens`: a 2-D integer array (row i: requests[i]'s token ids from 0, read in place) or a sequence of one 1-D array / list per request; page_extra_keys likewise (None: none). Errors as the keyed commit, plus DuplicateRequestError; ValueError when tokens has not one row per request.
        """

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: int) -> None: ...

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        truncate(requests[i], lengths[i]) for the whole batch, or for none of it; each request is checked against the state before the call. Errors as truncate, plus DuplicateRequestError.
        """

    def free_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        free(r) for every request of the batch, or for none. Raises UnknownRequestError, DuplicateRequestError.
        """

    @property
    def full(self) -> FullView:
        """This pool as a FullView: page lists, stats and full-layer tables."""

    def attach_prefix(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Attaches to the empty request the longest cached prefix of `tokens` (its prompt), in whole pages and never the last token; returns the hit in tokens, which the request then holds, committed. page_extra_keys[i] is page i's extra identity (a multimodal item hash). Raises UnknownRequestError, RequestNotEmptyError.
        """

    def lookup(self, tokens: TokenIds, *, tenant_salt: int = 0, extra_key: int = 0, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Tokens attach_prefix would hit now for a request of this scope; changes nothing.
        """

    def cache_committed(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages so later requests can hit them; `tokens` are its token ids from position 0. Raises UnknownRequestError, TokensTooShortError.
        """

    def commit(self, request: int, n: int, tokens: TokenIds | None = None, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Commits n of the tokens in flight (see the plain pools' commit). With `tokens` (the request's token ids from 0, covering the new committed length) it first keys the whole pages the commit completes, so SWA pages leaving the window stay cached. Raises UnknownRequestError, NegativeLengthError, CommitExceedsReservedError, TokensTooShortError.
        """

    def preempt(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages, then frees it: a resumed request (same tokens, same scope) hits them. Raises UnknownRequestError, TokensTooShortError.
        """

    def reset_cache(self) -> None:
        """
        Empties the cache. Raises CacheInUseError while any request holds a page.
        """

    def enable_events(self, callback: Callable[[KvEvent], None] | None = None) -> None:
        """
        Records KV events (stored / removed / cleared) from now on. With a callback, each call passes its events to callback(event) after it returns; without one they wait for poll_events().
        """

    def disable_events(self) -> None:
        """
        Stops recording KV events (events not polled yet stay until poll_events()).
        """

    def poll_events(self) -> list[KvEvent]:
        """
        The events recorded since the last poll, oldest first (a list of KvEvent).
        """

    def device_tables(self, *, max_requests: int, max_batch: int, max_pages_per_request: int, max_new_tokens: int, max_writes: int, captured_delta_bytes: int = 65536, full_rows: bool = False) -> DeviceTables:
        """
        This pool's page tables in device memory (a DeviceTables, on the current CUDA device), already in step with the pool: capacities as table_capacity (live requests, batch rows, pages per row, tokens in flight per step, writes per delta). captured_delta_bytes: what a CUDA-graph-captured sync copies. full_rows=True re-reads every live page at each stage (exact after any history; the default re-reads only past the committed prefix, docs/device_tables.md). Raises InvalidCapacityError, BufferTooSmallError or RowTooShortError (the pool's live requests exceed the capacity), DeviceError (no CUDA device, or an allocation failed).
        """

class SwaPool:
    """
    A pool for sliding-window layers: pages leave a request once its committed length passes them by W.
    """

    def __init__(self, *, pages: int, page_size: int, window: int) -> None:
        """
        A sliding-window pool of `pages` pages of page_size tokens with window W = window tokens. Raises InvalidPoolSizeError, InvalidPageSizeError, InvalidWindowError.
        """

    def add_request(self) -> int:
        """A new empty request; returns its id (an int)."""

    def add_requests(self, count: int) -> Annotated[NDArray[numpy.uint64], dict(shape=(None,))]:
        """`count` new empty requests as a uint64 array of ids."""

    def commit(self, request: int, n: int) -> None:
        """
        Of the tokens in flight, the first n become committed and the rest are dropped; SWA pools release the pages that fell out of the window. Raises UnknownRequestError, NegativeLengthError, CommitExceedsReservedError.
        """

    def extend(self, request: int, n: int) -> None:
        """
        Reserves n more tokens (uncommitted) and the pages they cross into, evicting cached pages when the free list runs out. Raises UnknownRequestError, NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def truncate(self, request: int, length: int) -> None:
        """
        Rolls the request back to `length` tokens (committed ones included). Raises UnknownRequestError, NegativeLengthError, TruncatePastLengthError, WindowAlreadyReleasedError, TruncateIntoSharedPageError.
        """

    def free(self, request: int) -> None:
        """
        Releases every page of the request and retires its id. Raises UnknownRequestError.
        """

    def add_committed_request(self, length: int) -> int:
        """
        A new request holding `length` committed tokens whose KV arrives from elsewhere (disaggregated prefill). Raises NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def contains(self, request: int) -> bool:
        """Whether the request is live."""

    def __contains__(self, arg: int, /) -> bool: ...

    def check_invariants(self) -> None:
        """
        Checks every invariant of the pool (O(pages)); raises InvariantViolatedError naming the first one broken. For tests and debugging.
        """

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        extend(requests[i], counts[i]) for the whole batch, or for none of it: the batch is checked first (per request, then the pages of all of them together). `counts` is an int array or one int for all. Errors as extend, plus DuplicateRequestError; the exception's `index` is the batch position (None for a shortage of pages).
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        commit(requests[i], counts[i]) for the whole batch, or for none of it. Errors as commit, plus DuplicateRequestError.
        """

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: int) -> None: ...

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        truncate(requests[i], lengths[i]) for the whole batch, or for none of it; each request is checked against the state before the call. Errors as truncate, plus DuplicateRequestError.
        """

    def free_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        free(r) for every request of the batch, or for none. Raises UnknownRequestError, DuplicateRequestError.
        """

    @property
    def swa(self) -> SwaView:
        """This pool as an SwaView: page lists, stats and SWA-layer tables."""

    def device_tables(self, *, max_requests: int, max_batch: int, max_pages_per_request: int, max_new_tokens: int, max_writes: int, captured_delta_bytes: int = 65536, full_rows: bool = False) -> DeviceTables:
        """
        This pool's page tables in device memory (a DeviceTables, on the current CUDA device), already in step with the pool: capacities as table_capacity (live requests, batch rows, pages per row, tokens in flight per step, writes per delta). captured_delta_bytes: what a CUDA-graph-captured sync copies. full_rows=True re-reads every live page at each stage (exact after any history; the default re-reads only past the committed prefix, docs/device_tables.md). Raises InvalidCapacityError, BufferTooSmallError or RowTooShortError (the pool's live requests exceed the capacity), DeviceError (no CUDA device, or an allocation failed).
        """

class HybridPool:
    """
    A full pool and an SWA pool with the same page size, for models mixing full-attention and sliding-window layers; every call updates both, or neither.
    """

    def __init__(self, *, full_pages: int, swa_pages: int, page_size: int, window: int) -> None:
        """
        A full pool of full_pages and an SWA pool of swa_pages pages (each with its null page 0) of page_size tokens, window W = window tokens. Raises InvalidPoolSizeError, InvalidPageSizeError, InvalidWindowError.
        """

    def add_request(self) -> int:
        """A new empty request; returns its id (an int)."""

    def add_requests(self, count: int) -> Annotated[NDArray[numpy.uint64], dict(shape=(None,))]:
        """`count` new empty requests as a uint64 array of ids."""

    def commit(self, request: int, n: int) -> None:
        """
        Of the tokens in flight, the first n become committed and the rest are dropped; SWA pools release the pages that fell out of the window. Raises UnknownRequestError, NegativeLengthError, CommitExceedsReservedError.
        """

    def extend(self, request: int, n: int) -> None:
        """
        Reserves n more tokens (uncommitted) and the pages they cross into, evicting cached pages when the free list runs out. Raises UnknownRequestError, NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def truncate(self, request: int, length: int) -> None:
        """
        Rolls the request back to `length` tokens (committed ones included). Raises UnknownRequestError, NegativeLengthError, TruncatePastLengthError, WindowAlreadyReleasedError, TruncateIntoSharedPageError.
        """

    def free(self, request: int) -> None:
        """
        Releases every page of the request and retires its id. Raises UnknownRequestError.
        """

    def add_committed_request(self, length: int) -> int:
        """
        A new request holding `length` committed tokens whose KV arrives from elsewhere (disaggregated prefill). Raises NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def contains(self, request: int) -> bool:
        """Whether the request is live."""

    def __contains__(self, arg: int, /) -> bool: ...

    def check_invariants(self) -> None:
        """
        Checks every invariant of the pool (O(pages)); raises InvariantViolatedError naming the first one broken. For tests and debugging.
        """

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        extend(requests[i], counts[i]) for the whole batch, or for none of it: the batch is checked first (per request, then the pages of all of them together). `counts` is an int array or one int for all. Errors as extend, plus DuplicateRequestError; the exception's `index` is the batch position (None for a shortage of pages).
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        commit(requests[i], counts[i]) for the whole batch, or for none of it. Errors as commit, plus DuplicateRequestError.
        """

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: int) -> None: ...

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        truncate(requests[i], lengths[i]) for the whole batch, or for none of it; each request is checked against the state before the call. Errors as truncate, plus DuplicateRequestError.
        """

    def free_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        free(r) for every request of the batch, or for none. Raises UnknownRequestError, DuplicateRequestError.
        """

    @property
    def full(self) -> FullView:
        """The full-attention pool (FullView): full-layer tables."""

    @property
    def swa(self) -> SwaView:
        """The sliding-window pool (SwaView): SWA-layer tables."""

    def full_to_swa(self) -> Annotated[NDArray[numpy.int32], dict(shape=(None,))]:
        """
        A copy of the mapping full page -> SWA page holding the same tokens (0: none).
        """

    def device_tables(self, *, max_requests: int, max_batch: int, max_pages_per_request: int, max_new_tokens: int, max_writes: int, captured_delta_bytes: int = 65536, full_rows: bool = False) -> DeviceTables:
        """
        This pool's page tables in device memory (a DeviceTables, on the current CUDA device), already in step with the pool: capacities as table_capacity (live requests, batch rows, pages per row, tokens in flight per step, writes per delta). captured_delta_bytes: what a CUDA-graph-captured sync copies. full_rows=True re-reads every live page at each stage (exact after any history; the default re-reads only past the committed prefix, docs/device_tables.md). Raises InvalidCapacityError, BufferTooSmallError or RowTooShortError (the pool's live requests exceed the capacity), DeviceError (no CUDA device, or an allocation failed).
        """

class LruHybridPool:
    """
    A hybrid pool with prefix reuse; cached pages are evicted least recently used first.
    """

    def __init__(self, *, full_pages: int, swa_pages: int, page_size: int, window: int) -> None:
        """
        A full pool of full_pages and an SWA pool of swa_pages pages (each with its null page 0) of page_size tokens, window W = window tokens. Raises InvalidPoolSizeError, InvalidPageSizeError, InvalidWindowError.
        """

    def add_request(self, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> int:
        """
        A new empty request. Its pages are cached under (tenant_salt, extra_key): only requests of the same scope share them. Released pages wholly inside the first prefix_tokens tokens get prefix_priority, the others priority (priority LRU: 0 evicted first, 100 last).
        """

    def add_requests(self, count: int, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> Annotated[NDArray[numpy.uint64], dict(shape=(None,))]:
        """`count` new requests as a uint64 array, each as add_request(...)."""

    def extend(self, request: int, n: int) -> None:
        """
        Reserves n more tokens (uncommitted) and the pages they cross into, evicting cached pages when the free list runs out. Raises UnknownRequestError, NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def truncate(self, request: int, length: int) -> None:
        """
        Rolls the request back to `length` tokens (committed ones included). Raises UnknownRequestError, NegativeLengthError, TruncatePastLengthError, WindowAlreadyReleasedError, TruncateIntoSharedPageError.
        """

    def free(self, request: int) -> None:
        """
        Releases every page of the request and retires its id. Raises UnknownRequestError.
        """

    def add_committed_request(self, length: int) -> int:
        """
        A new request holding `length` committed tokens whose KV arrives from elsewhere (disaggregated prefill). Raises NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def contains(self, request: int) -> bool:
        """Whether the request is live."""

    def __contains__(self, arg: int, /) -> bool: ...

    def check_invariants(self) -> None:
        """
        Checks every invariant of the pool (O(pages)); raises InvariantViolatedError naming the first one broken. For tests and debugging.
        """

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        extend(requests[i], counts[i]) for the whole batch, or for none of it: the batch is checked first (per request, then the pages of all of them together). `counts` is an int array or one int for all. Errors as extend, plus DuplicateRequestError; the exception's `index` is the batch position (None for a shortage of pages).
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        commit(requests[i], counts[i]) for the whole batch, or for none of it. Errors as commit, plus DuplicateRequestError.
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int, tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None:
        """
        commit(requests[i], counts[i], tokens[i], page_extra_keys[i]) for the whole batch, or for none of it. `tokens`: a 2-D integer array (row i: requests[i]'s token ids from 0, read in place) or a sequence of one 1-D array / list per request; page_extra_keys likewise (None: none). Errors as the keyed commit, plus DuplicateRequestError; ValueError when tokens has not one row per request.
        """

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: int) -> None: ...

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        truncate(requests[i], lengths[i]) for the whole batch, or for none of it; each request is checked against the state before the call. Errors as truncate, plus DuplicateRequestError.
        """

    def free_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        free(r) for every request of the batch, or for none. Raises UnknownRequestError, DuplicateRequestError.
        """

    @property
    def full(self) -> FullView:
        """The full-attention pool (FullView): full-layer tables."""

    @property
    def swa(self) -> SwaView:
        """The sliding-window pool (SwaView): SWA-layer tables."""

    def full_to_swa(self) -> Annotated[NDArray[numpy.int32], dict(shape=(None,))]:
        """
        A copy of the mapping full page -> SWA page holding the same tokens (0: none).
        """

    def attach_prefix(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Attaches to the empty request the longest cached prefix of `tokens` (its prompt), in whole pages and never the last token; returns the hit in tokens, which the request then holds, committed. page_extra_keys[i] is page i's extra identity (a multimodal item hash). Raises UnknownRequestError, RequestNotEmptyError.
        """

    def lookup(self, tokens: TokenIds, *, tenant_salt: int = 0, extra_key: int = 0, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Tokens attach_prefix would hit now for a request of this scope; changes nothing.
        """

    def cache_committed(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages so later requests can hit them; `tokens` are its token ids from position 0. Raises UnknownRequestError, TokensTooShortError.
        """

    def commit(self, request: int, n: int, tokens: TokenIds | None = None, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Commits n of the tokens in flight (see the plain pools' commit). With `tokens` (the request's token ids from 0, covering the new committed length) it first keys the whole pages the commit completes, so SWA pages leaving the window stay cached. Raises UnknownRequestError, NegativeLengthError, CommitExceedsReservedError, TokensTooShortError.
        """

    def preempt(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages, then frees it: a resumed request (same tokens, same scope) hits them. Raises UnknownRequestError, TokensTooShortError.
        """

    def reset_cache(self) -> None:
        """
        Empties the cache. Raises CacheInUseError while any request holds a page.
        """

    def enable_events(self, callback: Callable[[KvEvent], None] | None = None) -> None:
        """
        Records KV events (stored / removed / cleared) from now on. With a callback, each call passes its events to callback(event) after it returns; without one they wait for poll_events().
        """

    def disable_events(self) -> None:
        """
        Stops recording KV events (events not polled yet stay until poll_events()).
        """

    def poll_events(self) -> list[KvEvent]:
        """
        The events recorded since the last poll, oldest first (a list of KvEvent).
        """

    def device_tables(self, *, max_requests: int, max_batch: int, max_pages_per_request: int, max_new_tokens: int, max_writes: int, captured_delta_bytes: int = 65536, full_rows: bool = False) -> DeviceTables:
        """
        This pool's page tables in device memory (a DeviceTables, on the current CUDA device), already in step with the pool: capacities as table_capacity (live requests, batch rows, pages per row, tokens in flight per step, writes per delta). captured_delta_bytes: what a CUDA-graph-captured sync copies. full_rows=True re-reads every live page at each stage (exact after any history; the default re-reads only past the committed prefix, docs/device_tables.md). Raises InvalidCapacityError, BufferTooSmallError or RowTooShortError (the pool's live requests exceed the capacity), DeviceError (no CUDA device, or an allocation failed).
        """

class PriorityLruHybridPool:
    """
    A hybrid pool with prefix reuse; eviction by retention priority (0 first), then recency.
    """

    def __init__(self, *, full_pages: int, swa_pages: int, page_size: int, window: int) -> None:
        """
        A full pool of full_pages and an SWA pool of swa_pages pages (each with its null page 0) of page_size tokens, window W = window tokens. Raises InvalidPoolSizeError, InvalidPageSizeError, InvalidWindowError.
        """

    def add_request(self, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> int:
        """
        A new empty request. Its pages are cached under (tenant_salt, extra_key): only requests of the same scope share them. Released pages wholly inside the first prefix_tokens tokens get prefix_priority, the others priority (priority LRU: 0 evicted first, 100 last).
        """

    def add_requests(self, count: int, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> Annotated[NDArray[numpy.uint64], dict(shape=(None,))]:
        """`count` new requests as a uint64 array, each as add_request(...)."""

    def extend(self, request: int, n: int) -> None:
        """
        Reserves n more tokens (uncommitted) and the pages they cross into, evicting cached pages when the free list runs out. Raises UnknownRequestError, NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def truncate(self, request: int, length: int) -> None:
        """
        Rolls the request back to `length` tokens (committed ones included). Raises UnknownRequestError, NegativeLengthError, TruncatePastLengthError, WindowAlreadyReleasedError, TruncateIntoSharedPageError.
        """

    def free(self, request: int) -> None:
        """
        Releases every page of the request and retires its id. Raises UnknownRequestError.
        """

    def add_committed_request(self, length: int) -> int:
        """
        A new request holding `length` committed tokens whose KV arrives from elsewhere (disaggregated prefill). Raises NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def contains(self, request: int) -> bool:
        """Whether the request is live."""

    def __contains__(self, arg: int, /) -> bool: ...

    def check_invariants(self) -> None:
        """
        Checks every invariant of the pool (O(pages)); raises InvariantViolatedError naming the first one broken. For tests and debugging.
        """

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        extend(requests[i], counts[i]) for the whole batch, or for none of it: the batch is checked first (per request, then the pages of all of them together). `counts` is an int array or one int for all. Errors as extend, plus DuplicateRequestError; the exception's `index` is the batch position (None for a shortage of pages).
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        commit(requests[i], counts[i]) for the whole batch, or for none of it. Errors as commit, plus DuplicateRequestError.
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int, tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None:
        """
        commit(requests[i], counts[i], tokens[i], page_extra_keys[i]) for the whole batch, or for none of it. `tokens`: a 2-D integer array (row i: requests[i]'s token ids from 0, read in place) or a sequence of one 1-D array / list per request; page_extra_keys likewise (None: none). Errors as the keyed commit, plus DuplicateRequestError; ValueError when tokens has not one row per request.
        """

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: int) -> None: ...

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        truncate(requests[i], lengths[i]) for the whole batch, or for none of it; each request is checked against the state before the call. Errors as truncate, plus DuplicateRequestError.
        """

    def free_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        free(r) for every request of the batch, or for none. Raises UnknownRequestError, DuplicateRequestError.
        """

    @property
    def full(self) -> FullView:
        """The full-attention pool (FullView): full-layer tables."""

    @property
    def swa(self) -> SwaView:
        """The sliding-window pool (SwaView): SWA-layer tables."""

    def full_to_swa(self) -> Annotated[NDArray[numpy.int32], dict(shape=(None,))]:
        """
        A copy of the mapping full page -> SWA page holding the same tokens (0: none).
        """

    def attach_prefix(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Attaches to the empty request the longest cached prefix of `tokens` (its prompt), in whole pages and never the last token; returns the hit in tokens, which the request then holds, committed. page_extra_keys[i] is page i's extra identity (a multimodal item hash). Raises UnknownRequestError, RequestNotEmptyError.
        """

    def lookup(self, tokens: TokenIds, *, tenant_salt: int = 0, extra_key: int = 0, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Tokens attach_prefix would hit now for a request of this scope; changes nothing.
        """

    def cache_committed(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages so later requests can hit them; `tokens` are its token ids from position 0. Raises UnknownRequestError, TokensTooShortError.
        """

    def commit(self, request: int, n: int, tokens: TokenIds | None = None, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Commits n of the tokens in flight (see the plain pools' commit). With `tokens` (the request's token ids from 0, covering the new committed length) it first keys the whole pages the commit completes, so SWA pages leaving the window stay cached. Raises UnknownRequestError, NegativeLengthError, CommitExceedsReservedError, TokensTooShortError.
        """

    def preempt(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages, then frees it: a resumed request (same tokens, same scope) hits them. Raises UnknownRequestError, TokensTooShortError.
        """

    def reset_cache(self) -> None:
        """
        Empties the cache. Raises CacheInUseError while any request holds a page.
        """

    def enable_events(self, callback: Callable[[KvEvent], None] | None = None) -> None:
        """
        Records KV events (stored / removed / cleared) from now on. With a callback, each call passes its events to callback(event) after it returns; without one they wait for poll_events().
        """

    def disable_events(self) -> None:
        """
        Stops recording KV events (events not polled yet stay until poll_events()).
        """

    def poll_events(self) -> list[KvEvent]:
        """
        The events recorded since the last poll, oldest first (a list of KvEvent).
        """

    def device_tables(self, *, max_requests: int, max_batch: int, max_pages_per_request: int, max_new_tokens: int, max_writes: int, captured_delta_bytes: int = 65536, full_rows: bool = False) -> DeviceTables:
        """
        This pool's page tables in device memory (a DeviceTables, on the current CUDA device), already in step with the pool: capacities as table_capacity (live requests, batch rows, pages per row, tokens in flight per step, writes per delta). captured_delta_bytes: what a CUDA-graph-captured sync copies. full_rows=True re-reads every live page at each stage (exact after any history; the default re-reads only past the committed prefix, docs/device_tables.md). Raises InvalidCapacityError, BufferTooSmallError or RowTooShortError (the pool's live requests exceed the capacity), DeviceError (no CUDA device, or an allocation failed).
        """

class S3FifoHybridPool:
    """A hybrid pool with prefix reuse; eviction by adaptive S3-FIFO."""

    def __init__(self, *, full_pages: int, swa_pages: int, page_size: int, window: int) -> None:
        """
        A full pool of full_pages and an SWA pool of swa_pages pages (each with its null page 0) of page_size tokens, window W = window tokens. Raises InvalidPoolSizeError, InvalidPageSizeError, InvalidWindowError.
        """

    def add_request(self, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> int:
        """
        A new empty request. Its pages are cached under (tenant_salt, extra_key): only requests of the same scope share them. Released pages wholly inside the first prefix_tokens tokens get prefix_priority, the others priority (priority LRU: 0 evicted first, 100 last).
        """

    def add_requests(self, count: int, *, tenant_salt: int = 0, extra_key: int = 0, priority: int = 35, prefix_tokens: int = 0, prefix_priority: int = 35) -> Annotated[NDArray[numpy.uint64], dict(shape=(None,))]:
        """`count` new requests as a uint64 array, each as add_request(...)."""

    def extend(self, request: int, n: int) -> None:
        """
        Reserves n more tokens (uncommitted) and the pages they cross into, evicting cached pages when the free list runs out. Raises UnknownRequestError, NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def truncate(self, request: int, length: int) -> None:
        """
        Rolls the request back to `length` tokens (committed ones included). Raises UnknownRequestError, NegativeLengthError, TruncatePastLengthError, WindowAlreadyReleasedError, TruncateIntoSharedPageError.
        """

    def free(self, request: int) -> None:
        """
        Releases every page of the request and retires its id. Raises UnknownRequestError.
        """

    def add_committed_request(self, length: int) -> int:
        """
        A new request holding `length` committed tokens whose KV arrives from elsewhere (disaggregated prefill). Raises NegativeLengthError, LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.
        """

    def contains(self, request: int) -> bool:
        """Whether the request is live."""

    def __contains__(self, arg: int, /) -> bool: ...

    def check_invariants(self) -> None:
        """
        Checks every invariant of the pool (O(pages)); raises InvariantViolatedError naming the first one broken. For tests and debugging.
        """

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def extend_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        extend(requests[i], counts[i]) for the whole batch, or for none of it: the batch is checked first (per request, then the pages of all of them together). `counts` is an int array or one int for all. Errors as extend, plus DuplicateRequestError; the exception's `index` is the batch position (None for a shortage of pages).
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        commit(requests[i], counts[i]) for the whole batch, or for none of it. Errors as commit, plus DuplicateRequestError.
        """

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: int, tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None: ...

    @overload
    def commit_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], tokens: BatchTokenIds | None, page_extra_keys: BatchExtraKeys | None = None) -> None:
        """
        commit(requests[i], counts[i], tokens[i], page_extra_keys[i]) for the whole batch, or for none of it. `tokens`: a 2-D integer array (row i: requests[i]'s token ids from 0, read in place) or a sequence of one 1-D array / list per request; page_extra_keys likewise (None: none). Errors as the keyed commit, plus DuplicateRequestError; ValueError when tokens has not one row per request.
        """

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: int) -> None: ...

    @overload
    def truncate_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], lengths: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        truncate(requests[i], lengths[i]) for the whole batch, or for none of it; each request is checked against the state before the call. Errors as truncate, plus DuplicateRequestError.
        """

    def free_many(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        free(r) for every request of the batch, or for none. Raises UnknownRequestError, DuplicateRequestError.
        """

    @property
    def full(self) -> FullView:
        """The full-attention pool (FullView): full-layer tables."""

    @property
    def swa(self) -> SwaView:
        """The sliding-window pool (SwaView): SWA-layer tables."""

    def full_to_swa(self) -> Annotated[NDArray[numpy.int32], dict(shape=(None,))]:
        """
        A copy of the mapping full page -> SWA page holding the same tokens (0: none).
        """

    def attach_prefix(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Attaches to the empty request the longest cached prefix of `tokens` (its prompt), in whole pages and never the last token; returns the hit in tokens, which the request then holds, committed. page_extra_keys[i] is page i's extra identity (a multimodal item hash). Raises UnknownRequestError, RequestNotEmptyError.
        """

    def lookup(self, tokens: TokenIds, *, tenant_salt: int = 0, extra_key: int = 0, page_extra_keys: ExtraKeys | None = None) -> int:
        """
        Tokens attach_prefix would hit now for a request of this scope; changes nothing.
        """

    def cache_committed(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages so later requests can hit them; `tokens` are its token ids from position 0. Raises UnknownRequestError, TokensTooShortError.
        """

    def commit(self, request: int, n: int, tokens: TokenIds | None = None, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Commits n of the tokens in flight (see the plain pools' commit). With `tokens` (the request's token ids from 0, covering the new committed length) it first keys the whole pages the commit completes, so SWA pages leaving the window stay cached. Raises UnknownRequestError, NegativeLengthError, CommitExceedsReservedError, TokensTooShortError.
        """

    def preempt(self, request: int, tokens: TokenIds, page_extra_keys: ExtraKeys | None = None) -> None:
        """
        Keys the request's committed whole pages, then frees it: a resumed request (same tokens, same scope) hits them. Raises UnknownRequestError, TokensTooShortError.
        """

    def reset_cache(self) -> None:
        """
        Empties the cache. Raises CacheInUseError while any request holds a page.
        """

    def enable_events(self, callback: Callable[[KvEvent], None] | None = None) -> None:
        """
        Records KV events (stored / removed / cleared) from now on. With a callback, each call passes its events to callback(event) after it returns; without one they wait for poll_events().
        """

    def disable_events(self) -> None:
        """
        Stops recording KV events (events not polled yet stay until poll_events()).
        """

    def poll_events(self) -> list[KvEvent]:
        """
        The events recorded since the last poll, oldest first (a list of KvEvent).
        """

    def device_tables(self, *, max_requests: int, max_batch: int, max_pages_per_request: int, max_new_tokens: int, max_writes: int, captured_delta_bytes: int = 65536, full_rows: bool = False) -> DeviceTables:
        """
        This pool's page tables in device memory (a DeviceTables, on the current CUDA device), already in step with the pool: capacities as table_capacity (live requests, batch rows, pages per row, tokens in flight per step, writes per delta). captured_delta_bytes: what a CUDA-graph-captured sync copies. full_rows=True re-reads every live page at each stage (exact after any history; the default re-reads only past the committed prefix, docs/device_tables.md). Raises InvalidCapacityError, BufferTooSmallError or RowTooShortError (the pool's live requests exceed the capacity), DeviceError (no CUDA device, or an allocation failed).
        """

class FullDeviceTables:
    """
    The full-attention tables of a DeviceTables object (`tables.full`), as CUDA torch tensors.
    """

    @property
    def kind(self) -> AttentionKind:
        """The attention kind of every table of this view."""

    @property
    def block_table(self) -> Annotated[torch.Tensor, dict(dtype='int32', device='cuda')]:
        """
        int32 [max_batch, max_pages_per_request]: row b = batch row b's pages, null page 0 past its pages and (SWA) before the window, as emit_dense writes it. Rows past the batch are stale.
        """

    @property
    def kv_indptr(self) -> Annotated[torch.Tensor, dict(dtype='int32', device='cuda')]:
        """
        int32 [max_batch + 1]: FlashInfer's kv_indptr for the staged batch (entries 0..B).
        """

    @property
    def kv_indices(self) -> Annotated[torch.Tensor, dict(dtype='int32', device='cuda')]:
        """
        int32 [max_batch * max_pages_per_request]: FlashInfer's kv_indices (the first kv_indptr[B] entries); SWA rows list only in-window pages.
        """

    @property
    def kv_last_page_len(self) -> Annotated[torch.Tensor, dict(dtype='int32', device='cuda')]:
        """int32 [max_batch]: FlashInfer's kv_last_page_len (entries 0..B-1)."""

    @property
    def qo_indptr(self) -> Annotated[torch.Tensor, dict(dtype='int32', device='cuda')]:
        """
        int32 [max_batch + 1]: tokens in flight of the rows before b (query offsets; qo_indptr[B] = the slot mapping's length).
        """

    @property
    def slot_mapping(self) -> Annotated[torch.Tensor, dict(dtype='int64', device='cuda')]:
        """
        int64 [max_new_tokens]: page * P + offset of each token in flight, row by row (the first qo_indptr[B] entries), as emit_slot_mapping writes it.
        """

class SwaDeviceTables:
    """
    The sliding-window tables of a DeviceTables object (`tables.swa`), as CUDA torch tensors.
    """

    @property
    def kind(self) -> AttentionKind:
        """The attention kind of every table of this view."""

    @property
    def block_table(self) -> Annotated[torch.Tensor, dict(dtype='int32', device='cuda')]:
        """
        int32 [max_batch, max_pages_per_request]: row b = batch row b's pages, null page 0 past its pages and (SWA) before the window, as emit_dense writes it. Rows past the batch are stale.
        """

    @property
    def kv_indptr(self) -> Annotated[torch.Tensor, dict(dtype='int32', device='cuda')]:
        """
        int32 [max_batch + 1]: FlashInfer's kv_indptr for the staged batch (entries 0..B).
        """

    @property
    def kv_indices(self) -> Annotated[torch.Tensor, dict(dtype='int32', device='cuda')]:
        """
        int32 [max_batch * max_pages_per_request]: FlashInfer's kv_indices (the first kv_indptr[B] entries); SWA rows list only in-window pages.
        """

    @property
    def kv_last_page_len(self) -> Annotated[torch.Tensor, dict(dtype='int32', device='cuda')]:
        """int32 [max_batch]: FlashInfer's kv_last_page_len (entries 0..B-1)."""

    @property
    def qo_indptr(self) -> Annotated[torch.Tensor, dict(dtype='int32', device='cuda')]:
        """
        int32 [max_batch + 1]: tokens in flight of the rows before b (query offsets; qo_indptr[B] = the slot mapping's length).
        """

    @property
    def slot_mapping(self) -> Annotated[torch.Tensor, dict(dtype='int64', device='cuda')]:
        """
        int64 [max_new_tokens]: page * P + offset of each token in flight, row by row (the first qo_indptr[B] entries), as emit_slot_mapping writes it.
        """

class DeviceTables:
    """
    A pool's page tables in device memory at fixed addresses (made by `pool.device_tables(...)`), synced each step with one host-to-device copy and one kernel. The tensors (`full`, `swa`, `full_to_swa`) are views of those buffers: their data_ptr never changes, so a CUDA graph that reads them stays valid. Contract: every stage is followed by a sync of it, on one stream, before the next stage.
    """

    def stage(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> int:
        """
        Diffs the pool against the device state for this step's batch (rows in this order) and packs the delta into the pinned staging buffer; returns its bytes. Waits until the last sync's copy has read that buffer, so never call it while capturing a graph. Raises UnknownRequestError, DuplicateRequestError, RowTooShortError, BufferTooSmallError (batch, live requests, tokens in flight or writes over the capacity) with nothing changed.
        """

    def sync(self, stream: int | torch.cuda.Stream = 0) -> None:
        """
        Applies the staged delta on `stream` (a cudaStream_t int or a torch.cuda.Stream; 0 the legacy default stream): one copy, one kernel, no host synchronization, so it may be captured in a CUDA graph (a replay copies captured_delta_bytes and applies what is staged then: check fits_captured_sync before a replay). Raises DeviceError; the delta stays staged for a retry.
        """

    def update(self, requests: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], stream: int | torch.cuda.Stream = 0) -> int:
        """
        stage(requests) then sync(stream): one step eagerly; returns the bytes.
        """

    @property
    def fits_captured_sync(self) -> bool:
        """
        Whether the staged delta fits the fixed copy of a captured sync; when not, sync eagerly before the replay (the replayed kernel then refuses the truncated copy, changing nothing).
        """

    @property
    def rejected_deltas(self) -> int:
        """
        Syncs whose kernel refused a truncated delta (replays of a captured sync that did not fit). Synchronizes with the device.
        """

    @property
    def batch_size(self) -> int:
        """Rows of the last stage (B)."""

    @property
    def staged_bytes(self) -> int:
        """Bytes of the last staged delta."""

    @property
    def device(self) -> int:
        """The CUDA device of the buffers."""

    @property
    def max_requests(self) -> int:
        """Live requests the device store holds."""

    @property
    def max_batch(self) -> int:
        """Rows of one step's tables."""

    @property
    def max_pages_per_request(self) -> int:
        """Columns of a store row and of a block_table row."""

    @property
    def max_new_tokens(self) -> int:
        """Slot-mapping entries of one step."""

    @property
    def max_writes(self) -> int:
        """Entries of each record list of one delta."""

    @property
    def full(self) -> FullDeviceTables:
        """
        The full-attention tables (FullDeviceTables); AttributeError for an SWA pool.
        """

    @property
    def swa(self) -> SwaDeviceTables:
        """
        The sliding-window tables (SwaDeviceTables); AttributeError for a full pool.
        """

    @property
    def full_to_swa(self) -> Annotated[torch.Tensor, dict(dtype='int32', device='cuda')]:
        """
        int32 [full pages]: the hybrid's full_to_swa on the device, equal to pool.full_to_swa() on every entry a kernel can read (in-window pages of the batch) after a sync.
        """

def cuda_device_count() -> int:
    """CUDA devices visible to this process (0 without a driver or a device)."""

CUDA: bool  # True when built with the device tables (DeviceTables)

NULL_PAGE: int = 0

DEFAULT_RETENTION_PRIORITY: int = 35

MAX_RETENTION_PRIORITY: int = 100

def pages_for_tokens(tokens: int, page_size: int) -> int:
    """Pages needed to hold `tokens` tokens: ceil(tokens / page_size)."""

def dead_pages(committed_tokens: int, window: int, page_size: int) -> int:
    """
    Leading pages no future query can attend at committed length L and window W.
    """
