"""A small pure-Python model of pagedkv's rules for the plain (non-caching) pools.

It follows the documented rules (docs/, pool/paged_pool.hpp) independently of the C++ code:
- page i of a request holds tokens [i*P, (i+1)*P); a request of length L holds ceil(L/P) entries;
- a sliding pool releases its pages [0, dead_pages(committed)) and their entries become page 0;
- the free list is LIFO, page 1 popped first; released pages are pushed in entry order, the
  dropped tail before the window-released head;
- every call either succeeds or returns an error and changes nothing.
Calls return the error code (the errc name) or None.
"""
from __future__ import annotations

INT32_MAX = 2**31 - 1


def pages_for(tokens: int, page: int) -> int:
    return -(-tokens // page)


def dead_pages(committed: int, window: int, page: int) -> int:
    first_visible = committed - window + 1
    return 0 if first_visible <= 0 else first_visible // page


class Seq:
    def __init__(self):
        self.pages: list[int] = []
        self.length = 0
        self.committed = 0
        self.first_live = 0


class PoolModel:
    def __init__(self, pages: int, page_size: int, window: int = 0):
        self.kind = "sliding" if window else "full"
        self.P, self.W, self.N = page_size, window, pages
        self.stack = list(range(pages - 1, 0, -1))
        self.seqs: dict[int, Seq] = {}
        self.on_free = lambda page: None  # the hybrid model follows freed SWA pages

    def out_of_pages(self) -> str:
        return "out_of_full_pages" if self.kind == "full" else "out_of_swa_pages"

    def live_from(self, committed: int) -> int:
        return dead_pages(committed, self.W, self.P) if self.W else 0

    # -- checks (what a call would return) ---------------------------------------------------
    def need_extend(self, r: int, n: int):
        if r not in self.seqs:
            return "unknown_request", 0
        if n < 0:
            return "negative_length", 0
        s = self.seqs[r]
        if n > INT32_MAX * self.P - s.length:
            return "length_overflow", 0
        need = pages_for(s.length + n, self.P) - len(s.pages)
        if need > len(self.stack):
            return self.out_of_pages(), 0
        return None, need

    def check_commit(self, r: int, n: int):
        if r not in self.seqs:
            return "unknown_request"
        if n < 0:
            return "negative_length"
        s = self.seqs[r]
        if n > s.length - s.committed:
            return "commit_exceeds_reserved"
        return None

    def check_truncate(self, r: int, n: int):
        if r not in self.seqs:
            return "unknown_request"
        if n < 0:
            return "negative_length"
        s = self.seqs[r]
        if n > s.length:
            return "truncate_past_length"
        if self.live_from(min(s.committed, n)) < s.first_live:
            return "window_already_released"
        return None

    def need_hold(self, length: int):
        if length < 0:
            return "negative_length", 0
        if length > INT32_MAX * self.P:
            return "length_overflow", 0
        need = pages_for(length, self.P) - self.live_from(length)
        if need > len(self.stack):
            return self.out_of_pages(), 0
        return None, need

    # -- mutations (@pre the check passed) ----------------------------------------------------
    def add(self, r: int):
        self.seqs[r] = Seq()

    def extend(self, r: int, n: int):
        s = self.seqs[r]
        _, need = self.need_extend(r, n)
        for _ in range(need):
            s.pages.append(self.stack.pop())
        s.length += n

    def _release(self, s: Seq, first: int, last: int):
        for i in range(first, last):
            if s.pages[i]:
                self.stack.append(s.pages[i])
                self.on_free(s.pages[i])

    def _resize(self, s: Seq, length: int, committed: int):
        keep = pages_for(length, self.P)
        self._release(s, keep, len(s.pages))
        del s.pages[keep:]
        s.length, s.committed = length, committed
        live = self.live_from(committed)
        self._release(s, s.first_live, live)
        for i in range(s.first_live, live):
            s.pages[i] = 0
        s.first_live = live

    def commit(self, r: int, n: int):
        s = self.seqs[r]
        self._resize(s, s.committed + n, s.committed + n)

    def truncate(self, r: int, n: int):
        s = self.seqs[r]
        self._resize(s, n, min(s.committed, n))

    def free(self, r: int):
        s = self.seqs.pop(r)
        self._release(s, 0, len(s.pages))

    def add_committed(self, r: int, length: int):
        _, need = self.need_hold(length)
        s = Seq()
        live = self.live_from(length)
        s.pages = [0] * live + [self.stack.pop() for _ in range(need)]
        s.length = s.committed = length
        s.first_live = live
        self.seqs[r] = s

    # -- tables, from the rules of table/ -----------------------------------------------------
    def csr(self, batch):
        indptr, indices, last = [0], [], []
        for r in batch:
            s = self.seqs[r]
            row = s.pages[s.first_live:]
            indices += row
            indptr.append(len(indices))
            last.append(0 if not row else s.length - (s.length - 1) // self.P * self.P)
        return indptr, indices, last

    def dense(self, batch, row_pages: int):
        return [self.seqs[r].pages + [0] * (row_pages - len(self.seqs[r].pages)) for r in batch]

    def slots(self, batch):
        out = []
        for r in batch:
            s = self.seqs[r]
            out += [s.pages[t // self.P] * self.P + t % self.P for t in range(s.committed, s.length)]
        return out


class HybridModel:
    """Two pool models with the same ids and the full_to_swa mapping (one writer: link / unlink)."""

    def __init__(self, full_pages: int, swa_pages: int, page_size: int, window: int):
        self.full = PoolModel(full_pages, page_size)
        self.swa = PoolModel(swa_pages, page_size, window)
        self.full_to_swa = [0] * full_pages
        self.swa_to_full = [0] * swa_pages
        self.swa.on_free = self._unlink

    def _link(self, f: int, s: int):
        self.full_to_swa[f] = s
        self.swa_to_full[s] = f

    def _unlink(self, s: int):
        self.full_to_swa[self.swa_to_full[s]] = 0
        self.swa_to_full[s] = 0

    def parts(self):
        return (self.full, self.swa)

    def add(self, r: int):
        self.full.add(r)
        self.swa.add(r)

    def check_extend(self, r, n):
        for part in self.parts():
            err, _ = part.need_extend(r, n)
            if err:
                return err
        return None

    def extend(self, r, n):
        old = len(self.full.seqs[r].pages)
        self.full.extend(r, n)
        self.swa.extend(r, n)
        f, s = self.full.seqs[r].pages, self.swa.seqs[r].pages
        for i in range(old, len(f)):
            self._link(f[i], s[i])

    def check_commit(self, r, n):
        return self.full.check_commit(r, n)

    def commit(self, r, n):
        self.swa.commit(r, n)
        self.full.commit(r, n)

    def check_truncate(self, r, n):
        return self.swa.check_truncate(r, n) or self.full.check_truncate(r, n)

    def truncate(self, r, n):
        self.swa.truncate(r, n)
        self.full.truncate(r, n)

    def free(self, r):
        self.swa.free(r)
        self.full.free(r)

    def check_hold(self, length):
        for part in self.parts():
            err, _ = part.need_hold(length)
            if err:
                return err
        return None

    def add_committed(self, r, length):
        self.full.add_committed(r, length)
        self.swa.add_committed(r, length)
        f, s = self.full.seqs[r].pages, self.swa.seqs[r].pages
        for i in range(self.swa.seqs[r].first_live, len(f)):
            self._link(f[i], s[i])


def batch_error(model, op: str, batch, counts):
    """The (code, index) a batch call returns on `model` (HybridModel or PoolModel), or None.

    Each request is checked against the state before the call, in batch order; then (extend) the
    pages of the whole batch against each pool's free pages."""
    parts = model.parts() if isinstance(model, HybridModel) else (model,)
    seen = set()
    need = [0] * len(parts)
    for i, (r, n) in enumerate(zip(batch, counts)):
        if op == "extend":
            for k, part in enumerate(parts):
                err, pages = part.need_extend(r, n)
                if err:
                    return err, i
                need[k] += pages
        elif op == "commit":
            err = parts[0].check_commit(r, n)
            if err:
                return err, i
        elif op == "truncate":
            err = (model.check_truncate(r, n) if isinstance(model, HybridModel) else model.check_truncate(r, n))
            if err:
                return err, i
        elif op == "free":
            if r not in parts[0].seqs:
                return "unknown_request", i
        if r in seen:
            return "duplicate_request", i
        seen.add(r)
    for k, part in enumerate(parts):
        if need[k] > len(part.stack):
            return part.out_of_pages(), None
    return None
