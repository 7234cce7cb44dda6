"""DeviceTables (CUDA builds): the persistent device tables as torch tensors.

On a GPU: after a randomized history (chunked prefill, drafts accepted in part, rollbacks, requests
finishing and arriving, prefix hits) every tensor equals the host emission of the same batch, the
tensors' data_ptr never changes, and a CUDA graph reading them (or syncing them itself) replays
correctly after later steps. Without a GPU or torch those cases skip, saying why; a CUDA build
without a GPU still checks that creation fails with the right errors.
"""
import os
import re

import numpy as np
import pytest

import pagedkv as pk
from conftest import ids

if not pk.CUDA:
    pytest.skip("pagedkv was built without CUDA, so it has no device tables (pip install . builds the CPU "
                "module; meson setup -Dpython=true -Dcuda=enabled builds them: scripts/gpu_python_check.sh)",
                allow_module_level=True)

P, W = 4, 12
CAP = dict(max_requests=12, max_batch=8, max_pages_per_request=24, max_new_tokens=256, max_writes=1024)
MAX_LEN = CAP["max_pages_per_request"] * P  # a request finishes before its row overflows


def gpu_torch():
    """torch with a visible CUDA device, or a skip naming what is missing."""
    if pk.cuda_device_count() == 0:
        pytest.skip("no CUDA device visible to pagedkv (cudaGetDeviceCount is 0)")
    torch = pytest.importorskip("torch", reason="torch is not installed (the tensors are torch tensors)")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device (a CPU-only torch build?)")
    return torch


def stream(torch):
    return torch.cuda.current_stream().cuda_stream


POOLS = {
    "HybridPool": lambda: pk.HybridPool(full_pages=200, swa_pages=80, page_size=P, window=W),
    "FullPool": lambda: pk.FullPool(pages=200, page_size=P),
    "SwaPool": lambda: pk.SwaPool(pages=80, page_size=P, window=W),
    "LruHybridPool": lambda: pk.LruHybridPool(full_pages=200, swa_pages=80, page_size=P, window=W),
}


# ---- without a GPU --------------------------------------------------------------------------------

def test_a_capacity_below_one_is_invalid_capacity_before_any_cuda_call():
    pool = POOLS["HybridPool"]()
    with pytest.raises(pk.InvalidCapacityError) as e:
        pool.device_tables(**{**CAP, "max_batch": 0})
    assert e.value.code == "invalid_capacity"


def test_without_a_device_creation_raises_device_error():
    if pk.cuda_device_count() > 0:
        pytest.skip("a CUDA device is visible: this case is for machines without one")
    with pytest.raises(pk.DeviceError) as e:
        POOLS["HybridPool"]().device_tables(**CAP)
    assert e.value.code == "device_error" and str(e.value).startswith("device_tables: device_error: ")


# ---- a randomized history ---------------------------------------------------------------------------

class History:
    """An engine's steps on one pool: arrivals (with a shared prompt prefix on caching pools),
    chunked prefill or 1 + 3 drafts, a random number of them accepted, rare rollbacks below the
    committed length, and requests finishing. The loop of docs/device_tables.md: stage, run,
    commit, roll back."""

    def __init__(self, pool, seed, max_live=10):
        self.pool, self.rng, self.max_live = pool, np.random.default_rng(seed), max_live
        self.view = pool.full if hasattr(pool, "full") else pool.swa
        self.caching = hasattr(pool, "attach_prefix")
        self.prompts = [self.rng.integers(0, 1000, 16, dtype=np.int32) for _ in range(2)]
        self.tokens = {}  # request -> its token ids (caching pools key committed pages with them)
        self.live = []

    def arrive(self):
        r = self.pool.add_request()
        self.live.append(r)
        if self.caching:
            shared = self.prompts[int(self.rng.integers(0, 2))]
            self.tokens[r] = np.concatenate([shared, self.rng.integers(0, 1000, MAX_LEN - 16, dtype=np.int32)])
            self.pool.attach_prefix(r, self.tokens[r][:24])

    def schedule(self):
        """Extends some live requests; returns them as this step's batch."""
        while len(self.live) < self.max_live and self.rng.random() < 0.4:
            self.arrive()
        batch = []
        for r in self.rng.permutation(self.live)[: CAP["max_batch"]]:
            r = int(r)
            length = self.view.length(r)
            decode = length >= 20 and self.rng.random() < 0.7
            n = min(MAX_LEN - length, 4 if decode else int(self.rng.integers(1, 30)))
            if n <= 0:
                continue
            try:
                self.pool.extend(r, n)
            except (pk.OutOfFullPagesError, pk.OutOfSwaPagesError):
                continue
            batch.append(r)
        return ids(*batch)

    def finish(self, batch):
        """Accepts part of each row's tokens in flight, rolls back or frees a few requests."""
        if len(batch) == 0:
            if self.live:  # nobody could extend: free one so that pages come back
                self.pool.free(self.live.pop(0))
            return
        accepted = np.array([int(self.rng.integers(1, self.view.tokens_in_flight(int(r)) + 1)) for r in batch])
        if self.caching:
            self.pool.commit_many(batch, accepted, tokens=[self.tokens[int(r)] for r in batch])
        else:
            self.pool.commit_many(batch, accepted)
        for r in (int(r) for r in batch):
            length = self.view.length(r)
            if length >= MAX_LEN - 4 or self.rng.random() < 0.05:
                self.pool.free(r)
                self.live.remove(r)
                self.tokens.pop(r, None)
            elif self.rng.random() < 0.1 and length > 2:
                try:
                    self.pool.truncate(r, length - int(self.rng.integers(1, 3)))
                except (pk.WindowAlreadyReleasedError, pk.TruncateIntoSharedPageError):
                    pass


def host_tables(view, batch, row_pages):
    """The host emitters' tables for `batch`: what the device must hold after a sync."""
    dense, _ = view.dense(batch, row_pages=row_pages)
    indptr, indices, last = view.csr(batch)
    in_flight = [view.tokens_in_flight(int(r)) for r in batch]
    qo = np.concatenate([[0], np.cumsum(in_flight)]).astype(np.int32)
    return dense, indptr, indices, last, qo, view.slot_mapping(batch)


def check_view(device, view, batch, row_pages):
    b = len(batch)
    dense, indptr, indices, last, qo, slots = host_tables(view, batch, row_pages)
    np.testing.assert_array_equal(device.block_table[:b].cpu().numpy(), dense)
    np.testing.assert_array_equal(device.kv_indptr[: b + 1].cpu().numpy(), indptr)
    np.testing.assert_array_equal(device.kv_indices[: len(indices)].cpu().numpy(), indices)
    np.testing.assert_array_equal(device.kv_last_page_len[:b].cpu().numpy(), last)
    np.testing.assert_array_equal(device.qo_indptr[: b + 1].cpu().numpy(), qo)
    np.testing.assert_array_equal(device.slot_mapping[: len(slots)].cpu().numpy(), slots)


def views_of(pool, tables):
    """(device view, host view) pairs, by attention kind."""
    return [(getattr(tables, k), getattr(pool, k)) for k in ("full", "swa") if hasattr(pool, k)]


def check_tables(pool, tables, batch):
    for device, host in views_of(pool, tables):
        check_view(device, host, batch, tables.max_pages_per_request)
    if type(pool) is pk.HybridPool:  # a caching pool's tombstones are refreshed only when held again
        np.testing.assert_array_equal(tables.full_to_swa.cpu().numpy(), pool.full_to_swa())


def tensors(tables):
    out = {f"{k}.{name}": getattr(getattr(tables, k), name) for k in ("full", "swa") if hasattr(tables, k)
           for name in ("block_table", "kv_indptr", "kv_indices", "kv_last_page_len", "qo_indptr", "slot_mapping")}
    if hasattr(tables, "full_to_swa"):
        out["full_to_swa"] = tables.full_to_swa
    return out


@pytest.mark.parametrize("name", list(POOLS))
@pytest.mark.parametrize("full_rows", [False, True])
def test_tensors_equal_the_host_emission_after_a_randomized_history(name, full_rows):
    torch = gpu_torch()
    for seed in (1, 2):
        pool = POOLS[name]()
        tables = pool.device_tables(**CAP, full_rows=full_rows)
        addresses = {k: t.data_ptr() for k, t in tensors(tables).items()}
        history = History(pool, seed)
        for _ in range(150):
            batch = history.schedule()
            tables.update(batch, stream(torch))
            torch.cuda.current_stream().synchronize()
            assert tables.batch_size == len(batch)
            check_tables(pool, tables, batch)
            history.finish(batch)
        assert {k: t.data_ptr() for k, t in tensors(tables).items()} == addresses
        assert tables.rejected_deltas == 0


def test_tensor_shapes_dtypes_and_devices():
    torch = gpu_torch()
    tables = POOLS["HybridPool"]().device_tables(**CAP)
    b, mp, nt = CAP["max_batch"], CAP["max_pages_per_request"], CAP["max_new_tokens"]
    for view, kind in ((tables.full, pk.AttentionKind.full), (tables.swa, pk.AttentionKind.sliding)):
        assert view.kind == kind
        assert tuple(view.block_table.shape) == (b, mp) and view.block_table.dtype == torch.int32
        assert tuple(view.kv_indptr.shape) == (b + 1,) and tuple(view.qo_indptr.shape) == (b + 1,)
        assert tuple(view.kv_indices.shape) == (b * mp,) and tuple(view.kv_last_page_len.shape) == (b,)
        assert tuple(view.slot_mapping.shape) == (nt,) and view.slot_mapping.dtype == torch.int64
        assert view.block_table.device == torch.device("cuda", tables.device)
    assert tuple(tables.full_to_swa.shape) == (200,)
    # Two reads of one buffer are two tensors over the same memory.
    assert tables.swa.kv_indices.data_ptr() == tables.swa.kv_indices.data_ptr()
    assert tables.full.block_table.data_ptr() != tables.swa.block_table.data_ptr()


def test_single_pools_have_only_their_kind():
    gpu_torch()
    full = POOLS["FullPool"]().device_tables(**CAP)
    swa = POOLS["SwaPool"]().device_tables(**CAP)
    assert hasattr(full, "full") and not hasattr(full, "swa") and not hasattr(full, "full_to_swa")
    assert hasattr(swa, "swa") and not hasattr(swa, "full") and not hasattr(swa, "full_to_swa")


def test_creation_catches_up_with_a_pool_that_already_has_requests():
    torch = gpu_torch()
    pool = POOLS["HybridPool"]()
    a, b = (int(r) for r in pool.add_requests(2))
    pool.extend_many(ids(a, b), np.array([30, 9]))
    pool.commit_many(ids(a, b), np.array([30, 9]))
    tables = pool.device_tables(**CAP)
    assert tables.batch_size == 0 and tables.staged_bytes > 0
    pool.extend_many(ids(b, a), 1)
    tables.update(ids(b, a), stream(torch))
    torch.cuda.current_stream().synchronize()
    check_tables(pool, tables, ids(b, a))


def test_tables_keep_their_pool_alive():
    torch = gpu_torch()
    pool = POOLS["HybridPool"]()
    r = pool.add_request()
    tables = pool.device_tables(**CAP)
    del pool  # the tables hold their own reference: staging below reads the live pool
    tables.update(ids(r), stream(torch))
    torch.cuda.current_stream().synchronize()
    assert int(tables.swa.kv_indptr[1]) == 0


def test_a_failing_stage_raises_its_class_and_changes_nothing():
    torch = gpu_torch()
    pool = POOLS["HybridPool"]()
    rs = [int(r) for r in pool.add_requests(CAP["max_batch"] + 1)]
    pool.extend_many(ids(*rs), 5)
    tables = pool.device_tables(**CAP)
    tables.update(ids(rs[0]), stream(torch))
    torch.cuda.current_stream().synchronize()
    before = {k: t.clone() for k, t in tensors(tables).items()}
    gone = pool.add_request()
    pool.free(gone)
    for bad, cls in ((ids(*rs), pk.BufferTooSmallError), (ids(rs[0], rs[0]), pk.DuplicateRequestError),
                     (ids(gone), pk.UnknownRequestError)):
        with pytest.raises(cls):
            tables.stage(bad)
        assert tables.batch_size == 1
    with pytest.raises(TypeError):
        tables.sync("not a stream")
    torch.cuda.current_stream().synchronize()
    assert all(torch.equal(before[k], t) for k, t in tensors(tables).items())
    tables.update(ids(*rs[1:]), torch.cuda.current_stream())  # a torch.cuda.Stream works too
    torch.cuda.current_stream().synchronize()
    check_tables(pool, tables, ids(*rs[1:]))


# ---- CUDA graphs -------------------------------------------------------------------------------------

def test_a_graph_reading_the_tables_replays_correctly_after_later_syncs():
    torch = gpu_torch()
    pool = POOLS["HybridPool"]()
    tables = pool.device_tables(**CAP)
    swa, full = tables.swa, tables.full
    reads = {"dense": full.block_table, "indices": swa.kv_indices, "indptr": swa.kv_indptr, "slots": swa.slot_mapping}
    outs = {k: torch.zeros_like(t) for k, t in reads.items()}

    def forward():  # what a captured attention step does with the tables: a kernel reads them
        for k, out in outs.items():
            torch.mul(reads[k], 1, out=out)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        forward()  # warm-up outside the capture
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        forward()
    history = History(pool, 7)
    for _ in range(100):
        batch = history.schedule()
        tables.update(batch, stream(torch))
        graph.replay()
        torch.cuda.current_stream().synchronize()
        b = len(batch)
        dense, _ = pool.full.dense(batch, row_pages=CAP["max_pages_per_request"])
        indptr, indices, _ = pool.swa.csr(batch)
        slots = pool.swa.slot_mapping(batch)
        np.testing.assert_array_equal(outs["dense"][:b].cpu().numpy(), dense)
        np.testing.assert_array_equal(outs["indptr"][: b + 1].cpu().numpy(), indptr)
        np.testing.assert_array_equal(outs["indices"][: len(indices)].cpu().numpy(), indices)
        np.testing.assert_array_equal(outs["slots"][: len(slots)].cpu().numpy(), slots)
        history.finish(batch)


def test_a_captured_sync_replays_the_staged_delta_and_refuses_one_that_does_not_fit():
    torch = gpu_torch()
    pool = POOLS["HybridPool"]()
    tables = pool.device_tables(**CAP, captured_delta_bytes=1024)
    table = tables.swa.block_table
    out = torch.zeros_like(table)
    graph = torch.cuda.CUDAGraph()
    torch.cuda.current_stream().synchronize()
    with torch.cuda.graph(graph):
        tables.sync(stream(torch))  # the capture stream: the graph copies 1024 bytes and applies them
        torch.mul(table, 1, out=out)
    history = History(pool, 11)
    eager = 0
    for _ in range(120):
        batch = history.schedule()
        tables.stage(batch)
        if not tables.fits_captured_sync:
            tables.sync(stream(torch))  # a large delta: applied eagerly, the replay's copy is refused
            eager += 1
        graph.replay()
        torch.cuda.current_stream().synchronize()
        dense, _ = pool.swa.dense(batch, row_pages=CAP["max_pages_per_request"])
        np.testing.assert_array_equal(out[: len(batch)].cpu().numpy(), dense)
        check_tables(pool, tables, batch)
        history.finish(batch)
    assert 0 < eager < 120 and tables.rejected_deltas == eager


def test_the_documented_device_step_runs():
    gpu_torch()
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "python.md")
    if not os.path.exists(doc):
        pytest.skip("docs/python.md is not beside this test tree")
    block = re.search(r"<!-- example-begin device-tables -->\s*```python\n(.*?)```\s*<!-- example-end device-tables -->",
                      open(doc).read(), re.S)
    assert block, "the device-tables example markers are missing from docs/python.md"
    exec(compile(block.group(1), doc, "exec"), {})
