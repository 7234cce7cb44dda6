"""Randomized engine histories (fixed seeds) checked against the pure-Python model (model.py).

Plain hybrid pools: every call, valid or not, single or batched, is applied to the pool and to
the model; the error (class and batch index) must agree, and after each call every page list, the
occupancy, the mapping and all three table layouts must equal the model's, and the invariants hold.
Caching pools: the same kind of history with prefix reuse, checked against the invariants and
against tables derived from the pool's own page lists.
"""
import random

import numpy as np
import pytest

import pagedkv as pk
from conftest import ids
from model import HybridModel, batch_error, pages_for

P, W, FULL, SWA = 4, 10, 48, 24


def class_of(code):
    name = "".join(w.capitalize() for w in code.split("_"))
    return getattr(pk, name if name.endswith("Error") else name + "Error")


def expect(code, call, *args, index=None):
    """Runs call(*args): it must raise the class of `code` (with `index`) or, for None, succeed."""
    if code is None:
        return call(*args)
    with pytest.raises(class_of(code)) as info:
        call(*args)
    assert info.value.index == index
    return None


def compare(pool, model, live):
    for view, part in ((pool.full, model.full), (pool.swa, model.swa)):
        assert view.free_pages == len(part.stack)
        assert view.live_requests == len(part.seqs)
        for r in live:
            s = part.seqs[r]
            assert view.pages(r).tolist() == s.pages
            assert (view.length(r), view.committed(r), view.first_live_page(r)) == (s.length, s.committed,
                                                                                     s.first_live)
        batch = ids(*live)
        indptr, indices, last = view.csr(batch)
        assert (indptr.tolist(), indices.tolist(), last.tolist()) == tuple(part.csr(live))
        row = max([len(part.seqs[r].pages) for r in live], default=0) + 1
        table, lens = view.dense(batch, row)
        assert table.tolist() == part.dense(live, row)
        assert lens.tolist() == [part.seqs[r].length for r in live]
        assert view.slot_mapping(batch).tolist() == part.slots(live)
    assert pool.full_to_swa().tolist() == model.full_to_swa
    pool.check_invariants()


def random_count(rng, r, model):
    s = model.full.seqs.get(r)
    length = s.length if s else 0
    return rng.choice([-1, 0, 1, 1, 3, 4, 9, length, 40])


@pytest.mark.parametrize("seed", range(12))
def test_plain_hybrid_history_matches_the_model(seed):
    rng = random.Random(seed)
    pool = pk.HybridPool(full_pages=FULL, swa_pages=SWA, page_size=P, window=W)
    model = HybridModel(FULL, SWA, P, W)
    live, gone = [], []
    for _ in range(300):
        op = rng.choice(["add", "add", "add_committed", "extend", "extend", "commit", "commit", "truncate",
                         "free", "extend_many", "commit_many", "commit_many", "truncate_many", "free_many"])
        pick = lambda: rng.choice(live) if live and rng.random() < 0.85 else rng.choice(gone + [12345])
        if op == "add":
            r = pool.add_request()
            model.add(r)
            live.append(r)
        elif op == "add_committed":
            length = rng.choice([-1, 0, 5, 13, 30, 200])
            err = model.check_hold(length)
            r = expect(err, pool.add_committed_request, length)
            if err is None:
                model.add_committed(r, length)
                live.append(r)
        elif op in ("extend", "commit", "truncate"):
            r = pick()
            n = random_count(rng, r, model)
            if op == "truncate" and r in model.full.seqs:
                n = rng.randint(-1, model.full.seqs[r].length + 1)
            if op == "commit" and r in model.full.seqs and rng.random() < 0.8:
                s = model.full.seqs[r]
                n = rng.randint(0, s.length - s.committed)
            err = getattr(model, "check_" + op)(r, n)
            expect(err, getattr(pool, op), r, n)
            if err is None:
                getattr(model, op)(r, n)
        elif op == "free":
            r = pick()
            err = None if r in model.full.seqs else "unknown_request"
            expect(err, pool.free, r)
            if err is None:
                model.free(r)
                live.remove(r)
                gone.append(r)
        else:
            kind = op[:-len("_many")]
            batch = [pick() for _ in range(rng.randint(0, 4))]
            counts = [random_count(rng, r, model) for r in batch]
            if kind == "truncate":
                counts = [rng.randint(0, model.full.seqs[r].length) if r in model.full.seqs else 0 for r in batch]
            if kind == "commit":
                counts = [rng.randint(0, model.full.seqs[r].length - model.full.seqs[r].committed)
                          if r in model.full.seqs and rng.random() < 0.9 else 1 for r in batch]
            found = batch_error(model, kind, batch, counts)
            args = (ids(*batch),) if kind == "free" else (ids(*batch), np.array(counts, np.int64))
            if found:
                expect(found[0], getattr(pool, op), *args, index=found[1])
            else:
                getattr(pool, op)(*args)
                for r, n in zip(batch, counts):
                    getattr(model, kind)(r, n) if kind != "free" else model.free(r)
                if kind == "free":
                    for r in batch:
                        live.remove(r)
                        gone.append(r)
        compare(pool, model, live)


def derived_tables_agree(view, live):
    """Tables equal what the rules derive from the pool's own page lists (table/ emitters' contract)."""
    batch = ids(*live)
    indptr, indices, last = view.csr(batch)
    rows = [view.pages(r)[view.first_live_page(r):].tolist() for r in live]
    assert indices.tolist() == [p for row in rows for p in row]
    assert indptr.tolist() == np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(int).tolist()
    lengths = [view.length(r) for r in live]
    assert last.tolist() == [0 if not row else n - (n - 1) // view.page_size * view.page_size
                             for row, n in zip(rows, lengths)]
    slots = []
    for r in live:
        pages = view.pages(r)
        slots += [int(pages[t // view.page_size]) * view.page_size + t % view.page_size
                  for t in range(view.committed(r), view.length(r))]
    assert view.slot_mapping(batch).tolist() == slots


@pytest.mark.parametrize("eviction", ["lru", "priority_lru", "s3fifo"])
@pytest.mark.parametrize("seed", range(4))
def test_caching_hybrid_history_keeps_its_invariants(eviction, seed):
    rng = random.Random(100 + seed)
    pool = pk.hybrid_pool(full_pages=40, swa_pages=20, page_size=P, window=W, eviction=eviction)
    pool.enable_events()
    prompts = [np.array([rng.randrange(5) for _ in range(rng.randint(1, 30))], np.int32) for _ in range(4)]
    live = {}  # request -> its tokens
    for _ in range(250):
        op = rng.choice(["new", "step", "step", "finish", "preempt", "rollback"])
        try:
            if op == "new":
                tokens = rng.choice(prompts)
                r = pool.add_request(tenant_salt=rng.choice([0, 0, 1]))
                hit = pool.attach_prefix(r, tokens)
                assert hit % P == 0 and hit < len(tokens)
                live[r] = tokens
                pool.extend(r, len(tokens) - hit)
                pool.commit(r, len(tokens) - hit, tokens)
            elif op == "step" and live:
                batch = list(live)
                pool.extend_many(ids(*batch), 4)
                accepted = rng.randint(1, 4)
                for r in batch:
                    live[r] = np.concatenate([live[r], np.array([rng.randrange(5) for _ in range(accepted)],
                                                                np.int32)])
                    pool.commit(r, accepted, live[r])
            elif op == "finish" and live:
                r = rng.choice(list(live))
                pool.free(r)
                del live[r]
            elif op == "preempt" and live:
                r = rng.choice(list(live))
                pool.preempt(r, live.pop(r))
            elif op == "rollback" and live:
                r = rng.choice(list(live))
                n = rng.randint(0, pool.full.length(r))
                pool.truncate(r, n)
                live[r] = live[r][:n]
        except (pk.OutOfFullPagesError, pk.OutOfSwaPagesError, pk.WindowAlreadyReleasedError,
                pk.TruncateIntoSharedPageError):
            pass  # refused, state unchanged: the invariants below still hold
        pool.check_invariants()
        for view in (pool.full, pool.swa):
            derived_tables_agree(view, list(live))
        for e in pool.poll_events():
            assert e.kind in (pk.KvEventKind.stored, pk.KvEventKind.removed)
