"""
pagedkv: paged KV-cache memory for LLM engines mixing full-attention and sliding-window layers.
"""

import enum
from typing import Annotated, overload

import numpy
from collections.abc import Callable, Sequence
from numpy.typing import NDArray

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

NULL_PAGE: int = 0

DEFAULT_RETENTION_PRIORITY: int = 35

MAX_RETENTION_PRIORITY: int = 100

def pages_for_tokens(tokens: int, page_size: int) -> int:
    """Pages needed to hold `tokens` tokens: ceil(tokens / page_size)."""

def dead_pages(committed_tokens: int, window: int, page_size: int) -> int:
    """
    Leading pages no future query can attend at committed length L and window W.
    """
