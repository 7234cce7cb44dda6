"""Tables written into caller buffers: exact hand-worked values, every layout, zero copies."""
import numpy as np
import pytest

import pagedkv as pk
from conftest import ids


def decode_batch():
    """Two requests on P = 4, W = 8: a at 16 committed + 1 in flight, b at 5 in flight."""
    h = pk.HybridPool(full_pages=32, swa_pages=16, page_size=4, window=8)
    a, b = (int(r) for r in h.add_requests(2))
    h.extend(a, 16)   # full 1-4, SWA 1-4
    h.commit(a, 16)   # SWA 1, 2 released (pushed 1 then 2)
    h.extend(b, 5)    # full 5, 6; SWA 2, 1
    h.extend(a, 1)    # full 7; SWA 5
    return h, a, b


def test_flashinfer_csr_full_and_swa():
    h, a, b = decode_batch()
    indptr, indices, last = np.zeros(3, np.int32), np.zeros(8, np.int32), np.zeros(2, np.int32)
    assert h.full.emit_csr(ids(a, b), indptr, indices, last) == 7
    assert list(indptr) == [0, 5, 7] and list(indices[:7]) == [1, 2, 3, 4, 7, 5, 6] and list(last) == [1, 1]
    # The SWA rows list only in-window pages: a's released pages 0, 1 are trimmed, not padded.
    assert h.swa.emit_csr(ids(a, b), indptr, indices, last) == 5
    assert list(indptr) == [0, 3, 5] and list(indices[:5]) == [3, 4, 5, 2, 1] and list(last) == [1, 1]
    assert h.swa.csr_nnz(ids(a, b)) == 5 and h.full.csr_nnz(ids(a, b)) == 7


def test_dense_block_table_and_seq_lens():
    h, a, b = decode_batch()
    table, lens = np.full((3, 6), -1, np.int32), np.zeros(2, np.int32)
    h.full.emit_dense(ids(a, b), table, lens)
    assert table[:2].tolist() == [[1, 2, 3, 4, 7, 0], [5, 6, 0, 0, 0, 0]] and lens.tolist() == [17, 5]
    assert (table[2] == -1).all()  # rows past the batch are not touched
    h.swa.emit_dense(ids(a, b), table)  # full width: column i is token page i, null before the window
    assert table[:2].tolist() == [[0, 0, 3, 4, 5, 0], [2, 1, 0, 0, 0, 0]]
    dense, seq = h.swa.dense(ids(a, b))
    assert dense.tolist() == [[0, 0, 3, 4, 5], [2, 1, 0, 0, 0]] and seq.tolist() == [17, 5]


def test_vllm_slot_mapping():
    h, a, b = decode_batch()
    slots = np.full(8, -1, np.int64)
    assert h.full.emit_slot_mapping(ids(a, b), slots) == 6
    assert slots[:6].tolist() == [7 * 4 + 0, 5 * 4, 5 * 4 + 1, 5 * 4 + 2, 5 * 4 + 3, 6 * 4] and slots[6] == -1
    assert h.swa.slot_mapping(ids(a, b)).tolist() == [5 * 4, 2 * 4, 9, 10, 11, 1 * 4]
    assert h.full.slot_count(ids(a, b)) == 6


def test_empty_batch_and_empty_rows():
    h = pk.HybridPool(full_pages=8, swa_pages=8, page_size=4, window=8)
    r = h.add_request()
    indptr, last = np.full(2, -1, np.int32), np.full(1, -1, np.int32)
    assert h.swa.emit_csr(ids(r), indptr, np.zeros(0, np.int32), last) == 0
    assert indptr.tolist() == [0, 0] and last.tolist() == [0]
    assert h.full.emit_csr(ids(), np.zeros(1, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32)) == 0
    assert h.full.slot_mapping(ids()).shape == (0,)


def test_emission_writes_into_slices_of_larger_buffers():
    """Engines keep one persistent buffer and hand out its prefix: the emitter writes there in place."""
    h, a, b = decode_batch()
    arena = np.zeros(64, np.int32)
    indptr, indices, last = arena[0:3], arena[8:40], arena[40:42]
    h.full.emit_csr(ids(a, b), indptr, indices, last)
    assert arena[:3].tolist() == [0, 5, 7] and arena[8:15].tolist() == [1, 2, 3, 4, 7, 5, 6]


def test_buffer_protocol_objects_are_accepted():
    h, a, b = decode_batch()
    raw = bytearray(8 * 8)
    slots = memoryview(raw).cast("q")  # a plain buffer-protocol object, int64
    assert h.full.emit_slot_mapping(ids(a, b), slots) == 6
    assert np.frombuffer(raw, np.int64)[:6].tolist() == h.full.slot_mapping(ids(a, b)).tolist()


def test_torch_cpu_tensors_when_torch_is_installed():
    torch = pytest.importorskip("torch")
    h, a, b = decode_batch()
    indptr = torch.zeros(3, dtype=torch.int32)
    indices = torch.zeros(8, dtype=torch.int32)
    last = torch.zeros(2, dtype=torch.int32)
    assert h.swa.emit_csr(ids(a, b), indptr, indices, last) == 5
    assert indptr.tolist() == [0, 3, 5]


def test_tables_come_only_from_the_view_of_their_kind():
    h, a, b = decode_batch()
    assert h.full.kind == pk.AttentionKind.full and h.swa.kind == pk.AttentionKind.sliding
    assert type(h.full) is pk.FullView and type(h.swa) is pk.SwaView
    assert not hasattr(h, "emit_csr")  # the pool itself emits nothing: pick the layers' view
