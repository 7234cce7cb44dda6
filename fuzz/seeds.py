#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/ (seed-*): engine-like scenarios encoded in the input
format of fuzz/harness.hpp (docs/fuzzing.md), so fuzzing starts from deep, meaningful states.
Usage: fuzz/seeds.py [out_dir=fuzz/corpus]   (fuzz_tier's seeds go to out_dir/../corpus-tier,
fuzz_multi's to out_dir/../corpus-multi)"""
import os
import sys

FULL, SWA, HYBRID = 0, 1, 2
CREATE, ADD, EXTEND, COMMIT, SPECULATE, TRUNCATE, FREE, DENSE, CSR, SLOTS = range(10)
PAGE_SIZES = [1, 2, 3, 4, 5, 7, 8, 16, 64, 256]


class Seed:
    def __init__(self):
        self.b = bytearray()

    def op(self, target, opcode, *operands):
        self.b.append(3 * opcode + target)
        self.b.extend(operands)
        return self

    # Operand encoders (the decoder's branches, inverted).
    @staticmethod
    def size(pages):  # 2..121
        return pages - 2

    @staticmethod
    def page(p):
        return PAGE_SIZES.index(p)

    @staticmethod
    def window(w):  # 1..40
        return w - 1

    @staticmethod
    def tok(n):  # 0..19
        return n

    @staticmethod
    def pages_tok(k, d=0):  # k * P + d, k in 0..7, d in -1..1
        return 112 + k + 8 * (d + 1)

    @staticmethod
    def rel(base, d=0):  # base: 0 length, 1 committed, 2 in flight, 3 committed - W; d in -1..1
        return 184 + base + 4 * (d + 1)

    ODD = {"-1": 224, "int64_min": 225, "int64_max": 226, "int32_max": 227, "to_max": 228,
           "past_max": 229, "2^20": 230, "-P": 231}

    def create(self, t, pages, page, window, swa_pages=None):
        ops = [self.size(pages)] + ([self.size(swa_pages)] if t == HYBRID else []) + [self.page(page), self.window(window)]
        return self.op(t, CREATE, *ops)

    def add(self, t):
        return self.op(t, ADD)

    def extend(self, t, r, tokens_byte):
        return self.op(t, EXTEND, r, tokens_byte)

    def commit(self, t, r, tokens_byte):
        return self.op(t, COMMIT, r, tokens_byte)

    def speculate(self, t, r, drafts, accepted):  # drafts + 1 in flight, then `accepted` committed
        return self.op(t, SPECULATE, r, drafts, accepted)

    def truncate(self, t, r, tokens_byte):
        return self.op(t, TRUNCATE, r, tokens_byte)

    def free(self, t, r):
        return self.op(t, FREE, r)

    def tables(self, t, reqs, variant=0):
        for opcode in (DENSE, CSR, SLOTS):
            self.op(t, opcode, len(reqs), *reqs, variant)
        return self


def engine(t):
    """Three requests: chunked prefill, speculative decode, tables every step, one finishes."""
    s = Seed().create(t, 60, 4, 6, swa_pages=24)
    for _ in range(3):
        s.add(t)
    for r in range(3):  # prefill in chunks of 2 pages
        s.extend(t, r, Seed.pages_tok(2)).tables(t, [0, 1, 2]).commit(t, r, Seed.rel(2))
    for step in range(6):
        for r in range(3):
            s.speculate(t, r, step % 4, 1 + step % 3)
        s.tables(t, [0, 1, 2], variant=step % 2)
    s.free(t, 1).add(t).extend(t, 3, Seed.tok(9)).tables(t, [0, 2, 3]).tables(t, [0, 1], variant=3)
    return s


def exhaustion(t):
    """Tiny pools run dry; failing extends change nothing; freeing makes room."""
    s = Seed().create(t, 5, 2, 3, swa_pages=3).add(t).add(t)
    s.extend(t, 0, Seed.tok(7)).extend(t, 1, Seed.tok(6)).extend(t, 1, Seed.tok(1))
    s.commit(t, 0, Seed.rel(2)).extend(t, 0, Seed.tok(2)).free(t, 0).extend(t, 1, Seed.tok(4))
    return s.tables(t, [1, 0], variant=1)


def window_rollback(t):
    """Commit far past the window, then try to roll back into released pages."""
    s = Seed().create(t, 40, 2, 3, swa_pages=40).add(t).extend(t, 0, Seed.tok(17)).commit(t, 0, Seed.rel(2))
    s.truncate(t, 0, Seed.tok(3)).truncate(t, 0, Seed.rel(3, 1)).truncate(t, 0, Seed.rel(1, -1))
    s.extend(t, 0, Seed.tok(5)).truncate(t, 0, Seed.rel(1)).tables(t, [0])
    return s


def stale_ids(t):
    """Freed ids, reused slots and ids never issued."""
    s = Seed().add(t).extend(t, 0, Seed.tok(3)).free(t, 0).add(t)  # slot 0 reused with a new generation
    for op in (EXTEND, COMMIT, TRUNCATE):
        s.op(t, op, 0, Seed.tok(1)).op(t, op, 255, Seed.tok(1))
    return s.free(t, 0).free(t, 255).tables(t, [0, 1]).tables(t, [1]).tables(t, [255])


def bad_numbers(t):
    """Negative and overflowing lengths, at P = 1 and at the largest page size."""
    s = Seed().add(t)
    for odd in Seed.ODD.values():
        s.extend(t, 0, odd).commit(t, 0, odd).truncate(t, 0, odd)
    s.op(t, CREATE, *([0] if t != HYBRID else [0, 0]), 228, 3)  # page size INT32_MAX, window 4
    s.add(t)
    for odd in Seed.ODD.values():
        s.extend(t, 0, odd)
    return s.extend(t, 0, Seed.ODD["int32_max"]).tables(t, [0], variant=1)


def bad_creates(t):
    """Every invalid pool parameter, then a valid pool that is used."""
    s = Seed()
    for size, page, window in ((224, 0, 0), (0, 224, 0), (0, 0, 192), (231, 225, 194)):
        s.op(t, CREATE, *([size] if t != HYBRID else [size, size]), page, window)
    return s.create(t, 3, 1, 1, swa_pages=2).add(t).extend(t, 0, Seed.tok(2)).tables(t, [0], variant=4)


# The caching hybrid pool (prefix reuse): opcode bytes 240 + op; see docs/fuzzing.md.
C_CREATE, C_ADD, C_ATTACH, C_EXTEND, C_COMMIT_KEYED, C_COMMIT, C_SPECULATE, C_CACHE, C_PREEMPT, C_TRUNCATE, \
    C_FREE, C_RESET, C_DENSE, C_CSR, C_SLOTS, C_ADD_PLAIN = range(16)


class CacheSeed(Seed):
    def c(self, opcode, *operands):
        self.b.append(240 + opcode)
        self.b.extend(operands)
        return self

    def add_scoped(self, tenant, stream):  # stream s: family s % 4, shares its first (s // 4 % 8) * 5 tokens
        return self.c(C_ADD, tenant + 2 * stream)

    def tables_c(self, reqs, variant=0):
        for opcode in (C_DENSE, C_CSR, C_SLOTS):
            self.c(opcode, len(reqs), *reqs, variant)
        return self


def cache_share():
    """Two streams sharing 30 tokens, two tenants, a hit, a shared page truncate, preempt + resume."""
    s = CacheSeed()
    s.add_scoped(0, 28).c(C_ATTACH, 0, 40).c(C_EXTEND, 0, Seed.pages_tok(7)).c(C_COMMIT_KEYED, 0, Seed.rel(2), 0)
    s.c(C_FREE, 0)
    s.add_scoped(0, 24).c(C_ATTACH, 1, 40)            # hits 28 tokens of request 0's pages
    s.add_scoped(1, 28).c(C_ATTACH, 2, 40)            # another tenant: no hit
    s.add_scoped(0, 28).c(C_ATTACH, 3, 40)            # shares request 1's pages
    s.c(C_ATTACH, 3, 40)                              # request_not_empty
    s.c(C_TRUNCATE, 3, Seed.pages_tok(6, 1))          # into a shared page
    s.c(C_RESET)                                      # cache_in_use
    s.c(C_SPECULATE, 1, 3, 2, 0).c(C_SPECULATE, 1, 5, 7, 1)
    s.tables_c([1, 3, 2])
    s.c(C_CACHE, 1, 2).c(C_CACHE, 1, 1)               # tokens_too_short, then exact
    s.c(C_PREEMPT, 3, 2).c(C_PREEMPT, 3, 0)           # tokens_too_short, then preempt + resume
    s.c(C_PREEMPT, 1, 3)
    for r in range(8):
        s.c(C_FREE, r)
    return s.c(C_RESET).c(C_ADD_PLAIN).c(C_ATTACH, 7, 40)


def cache_pressure():
    """A tiny caching pool: hits, evictions of full and SWA pages (tombstones), plain commits."""
    s = CacheSeed().c(C_CREATE, 8, 4, 3, 5)          # 10 full pages, 6 SWA pages, P = 4, W = 6
    for i in range(4):
        s.add_scoped(0, 28).c(C_ATTACH, i, 30).c(C_EXTEND, i, Seed.pages_tok(3, 1))
        s.c(C_COMMIT_KEYED if i % 2 == 0 else C_COMMIT, i, Seed.rel(2), *([0] if i % 2 == 0 else []))
        s.c(C_PREEMPT, i, 0)
        s.add_scoped(0, 24 + i).c(C_ATTACH, 4 + 2 * i + 1, 30).c(C_EXTEND, 4 + 2 * i + 1, Seed.pages_tok(5))
        s.c(C_SPECULATE, 4 + 2 * i + 1, 2, 3, 1).tables_c([4 + 2 * i + 1])
    return s


T_CREATE, T_ADD, T_ATTACH, T_EXTEND, T_COMMIT_KEYED, T_SPECULATE, T_TRUNCATE, T_FREE, T_PREEMPT, T_TAKE, \
    T_COMPLETE, T_RESET, T_DENSE, T_CSR, T_SLOTS, T_ADD_PLAIN = range(16)
OLDEST, NEVER_TAKEN, NEWEST = range(3)


class TierSeed(Seed):
    """Inputs of fuzz_tier (run_tier): one byte per call, opcode b % 16."""
    def t(self, opcode, *operands):
        self.b.append(opcode)
        self.b.extend(operands)
        return self

    def add_scoped(self, tenant, stream):
        return self.t(T_ADD, tenant + 2 * stream)

    def turn(self, r, tenant, stream, prompt, extend_byte):
        """A request: attach `prompt` tokens of its stream, extend, forward pass + keyed commit."""
        self.add_scoped(tenant, stream).t(T_ATTACH, r, prompt).t(T_EXTEND, r, extend_byte)
        return self.t(T_COMMIT_KEYED, r, Seed.rel(2), 0)


def tier_offload():
    """Evicted pages go to host, come back on a hit (bytes checked), evicting again for the loads."""
    s = TierSeed().t(T_CREATE, Seed.size(6), Seed.size(10), Seed.page(4))  # 5 GPU pages, 9 host pages, P = 4
    s.turn(0, 0, 28, 40, Seed.pages_tok(5)).t(T_FREE, 0).t(T_TAKE).t(T_COMPLETE, OLDEST)
    s.turn(1, 0, 1, 40, Seed.pages_tok(5))            # evicts request 0's pages: written back
    s.t(T_COMPLETE, OLDEST).t(T_FREE, 1).t(T_COMPLETE, OLDEST)
    s.add_scoped(0, 28).t(T_ATTACH, 2, 21)            # 20 tokens of stream 28 from the host tier
    s.t(T_TAKE).t(T_DENSE, 1, 2, 0).t(T_CSR, 1, 2, 0)
    s.t(T_COMPLETE, NEWEST).t(T_COMPLETE, OLDEST)
    s.t(T_EXTEND, 2, 1).t(T_COMMIT_KEYED, 2, 1, 0).t(T_SLOTS, 1, 2, 0)
    s.t(T_PREEMPT, 2, 0)                              # and resume: hits its pages in the GPU tier
    s.add_scoped(1, 28).t(T_ATTACH, 4, 40)            # another tenant: no hit in either tier
    for r in range(5):
        s.t(T_FREE, r)
    return s.t(T_TAKE).t(T_COMPLETE, OLDEST).t(T_COMPLETE, OLDEST).t(T_RESET)


def tier_lagging():
    """Plans completed late and out of order, loads cancelled by truncate and free, reset refused."""
    s = TierSeed().t(T_CREATE, Seed.size(7), Seed.size(7), Seed.page(4))  # 6 GPU pages, 6 host pages
    s.turn(0, 0, 2, 40, Seed.pages_tok(6)).t(T_FREE, 0)
    s.turn(1, 1, 3, 40, Seed.pages_tok(6))            # evicts stream 2: 6 write-backs
    s.t(T_TAKE).t(T_RESET)                            # copies in flight: cache_in_use
    s.t(T_COMPLETE, NEVER_TAKEN).t(T_COMPLETE, NEWEST).t(T_COMPLETE, OLDEST).t(T_COMPLETE, OLDEST)
    s.t(T_FREE, 1)
    s.add_scoped(0, 2).t(T_ATTACH, 2, 40)             # host hit: loads planned
    s.t(T_TRUNCATE, 2, Seed.pages_tok(1, 1))          # the loads past page 1 cancelled
    s.t(T_SPECULATE, 2, 3, 2, 0)
    s.add_scoped(0, 2).t(T_ATTACH, 3, 40).t(T_FREE, 3)
    s.t(T_TAKE).t(T_TAKE).t(T_COMPLETE, OLDEST).t(T_TAKE).t(T_COMPLETE, NEWEST)
    s.t(T_COMPLETE, OLDEST).t(T_COMPLETE, OLDEST).t(T_COMPLETE, OLDEST)
    s.t(T_FREE, 2).t(T_RESET).t(T_TAKE)               # plans still in flight: refused
    for _ in range(4):
        s.t(T_COMPLETE, OLDEST)
    s.t(T_RESET)                                      # both tiers emptied
    s.turn(4, 0, 9, 12, Seed.pages_tok(2)).t(T_PREEMPT, 4, 0)  # calm: the resumed request hits its 8 tokens
    return s


def tier_bad():
    """Invalid creates, stale and unknown ids, keying tokens one short, a full GPU tier."""
    s = TierSeed().t(T_CREATE, 224 + 1, Seed.size(4), Seed.page(4))   # 1 GPU page: invalid_pool_size
    s.t(T_CREATE, Seed.size(4), 224 + 1, Seed.page(4))                 # 1 host page
    s.t(T_CREATE, Seed.size(4), Seed.size(4), 224)                     # page size 0
    s.t(T_CREATE, Seed.size(4), Seed.size(4), 224 + 4)                 # P = INT32_MAX: too many tokens
    s.add_scoped(0, 5).t(T_ATTACH, 0, 9).t(T_EXTEND, 0, Seed.pages_tok(7, 1))  # out_of_full_pages
    s.t(T_EXTEND, 0, Seed.pages_tok(2)).t(T_COMMIT_KEYED, 0, Seed.rel(2), 2)   # tokens_too_short
    s.t(T_COMMIT_KEYED, 0, Seed.rel(2), 3).t(T_ATTACH, 0, 9)                   # request_not_empty
    s.t(T_FREE, 0).t(T_FREE, 0).t(T_EXTEND, 0, 1).t(T_ATTACH, 250, 9)          # stale, never issued
    s.t(T_PREEMPT, 0, 0).t(T_COMMIT_KEYED, 0, 1, 0).t(T_SPECULATE, 250, 1, 3, 0)
    s.t(T_TRUNCATE, 0, 3).t(T_DENSE, 1, 0, 0).t(T_CSR, 1, 0, 0).t(T_SLOTS, 1, 0, 0)
    return s.t(T_ADD_PLAIN).t(T_COMPLETE, OLDEST).t(T_TAKE).t(T_COMPLETE, NEVER_TAKEN)


M_ADD_COMMITTED = 16  # fuzz_multi: the caching pool's opcodes (C_*), plus add_committed_request


class MultiSeed(Seed):
    """Inputs of fuzz_multi (run_multi): one byte per call, opcode b % 17, the C_* calls on the
    three-group hybrid (full; windows W0, W1; chunks C), plus M_ADD_COMMITTED."""
    def m(self, opcode, *operands):
        self.b.append(opcode)
        self.b.extend(operands)
        return self

    def create(self, full, groups, page, w0, w1, chunk):  # sizes in pages, rules in tokens (1..40)
        return self.m(C_CREATE, Seed.size(full), *[Seed.size(g) for g in groups], Seed.page(page),
                      Seed.window(w0), Seed.window(w1), Seed.window(chunk))

    def add_scoped(self, tenant, stream):
        return self.m(C_ADD, tenant + 2 * stream)

    def tables_m(self, reqs, variant=0):
        for opcode in (C_DENSE, C_CSR, C_SLOTS):
            self.m(opcode, len(reqs), *reqs, variant)
        return self


def multi_share():
    """Starting pool (40 full pages, groups of 12: W = 6, W = 9, C = 8; P = 4): a prompt keyed and
    freed, hits across streams and tenants, chunk boundaries, preempt + resume, tables, reset."""
    s = MultiSeed()
    s.add_scoped(0, 28).m(C_ATTACH, 0, 40).m(C_EXTEND, 0, Seed.pages_tok(7)).m(C_COMMIT_KEYED, 0, Seed.rel(2), 0)
    s.m(C_FREE, 0)
    s.add_scoped(0, 24).m(C_ATTACH, 1, 40)            # hits up to 28 tokens of request 0's pages
    s.add_scoped(1, 28).m(C_ATTACH, 2, 40)            # another tenant: no hit
    s.add_scoped(0, 28).m(C_ATTACH, 3, 17)            # H = 16: a chunk boundary, no chunk page needed
    s.m(C_SPECULATE, 1, 3, 2, 0).m(C_SPECULATE, 3, 5, 7, 1).m(C_SPECULATE, 2, 7, 9, 0)
    s.tables_m([1, 3, 2]).tables_m([3], 1)
    s.m(C_TRUNCATE, 3, Seed.rel(1, -1))               # back one committed token
    s.m(C_EXTEND, 1, Seed.tok(5)).m(C_TRUNCATE, 1, Seed.rel(1, 1)).m(C_COMMIT, 1, Seed.tok(1))  # drafts rolled back
    s.m(C_CACHE, 1, 2).m(C_CACHE, 1, 1)               # tokens_too_short, then exact
    s.m(C_PREEMPT, 3, 0).m(C_PREEMPT, 1, 0)           # preempt + resume: hits their own prefix
    s.m(C_RESET)                                      # cache_in_use
    s.m(M_ADD_COMMITTED, Seed.pages_tok(5, 1)).tables_m([6, 5])
    for r in range(8):
        s.m(C_FREE, r)
    return s.m(C_RESET).m(C_ADD_PLAIN).m(C_ATTACH, 8, 40)


def multi_pressure():
    """Groups of 5 pages: window and chunk pages evicted while their full pages stay cached
    (tombstones per group), plain commits, add_committed_request short of group pages."""
    s = MultiSeed().create(16, [5, 5, 5], 4, 6, 9, 8)
    for i in range(4):
        s.add_scoped(0, 28).m(C_ATTACH, i, 30).m(C_EXTEND, i, Seed.pages_tok(3, 1))
        s.m(C_COMMIT_KEYED if i % 2 == 0 else C_COMMIT, i, Seed.rel(2), *([0] if i % 2 == 0 else []))
        s.m(C_PREEMPT, i, 0)
        s.add_scoped(0, 24 + i).m(C_ATTACH, 4 + 2 * i + 1, 30).m(C_EXTEND, 4 + 2 * i + 1, Seed.pages_tok(5))
        s.m(C_SPECULATE, 4 + 2 * i + 1, 2, 3, 1).tables_m([4 + 2 * i + 1])
    return s.m(M_ADD_COMMITTED, Seed.pages_tok(7)).m(M_ADD_COMMITTED, Seed.tok(3))


def multi_bad():
    """Each pool's invalid create, negative and too long committed requests, rollbacks into a
    released window and chunk, stale and never-issued ids, keying tokens one short."""
    s = MultiSeed()
    bad = 224 + 1                                                       # a 1-page pool
    s.m(C_CREATE, bad, 10, 10, 10, Seed.page(4), 5, 8, 7)               # the full pool
    for g in range(3):
        sizes = [10, 10, 10]
        sizes[g] = bad
        s.m(C_CREATE, 38, *sizes, Seed.page(4), 5, 8, 7)                # each group
    s.m(C_CREATE, 38, 10, 10, 10, 224, 5, 8, 7)                         # page size 0
    s.m(C_CREATE, 38, 10, 10, 10, Seed.page(4), 192, 8, 7)              # window 0
    s.m(C_CREATE, 38, 10, 10, 10, Seed.page(4), 5, 193, 7)              # window -1
    s.m(C_CREATE, 38, 10, 10, 10, Seed.page(4), 5, 8, 192)              # chunk 0
    s.m(M_ADD_COMMITTED, 224).m(M_ADD_COMMITTED, 229)                   # -1 tokens; past the int32 table
    s.add_scoped(0, 5).m(C_EXTEND, 0, Seed.pages_tok(7, 1)).m(C_COMMIT_KEYED, 0, Seed.rel(2), 0)  # 29 committed
    s.m(C_TRUNCATE, 0, Seed.pages_tok(5))             # 20: window 6 needs page 3 again: released
    s.m(C_TRUNCATE, 0, Seed.pages_tok(6))             # 24: the chunk boundary itself
    s.m(C_EXTEND, 0, Seed.pages_tok(2)).m(C_COMMIT_KEYED, 0, Seed.rel(2), 2)  # tokens_too_short
    s.m(C_ATTACH, 0, 9)                               # request_not_empty
    s.m(C_FREE, 0).m(C_FREE, 0).m(C_EXTEND, 0, 1).m(C_ATTACH, 250, 9)       # stale, never issued
    s.m(C_PREEMPT, 0, 0).m(C_SPECULATE, 250, 1, 3, 0).tables_m([0])
    s.m(C_EXTEND, 1, Seed.tok(1))
    s.m(C_ADD_PLAIN).m(C_EXTEND, 1, 226).m(C_TRUNCATE, 1, 224).m(C_COMMIT, 1, Seed.tok(19)).m(C_COMMIT, 1, 224)
    return s.m(M_ADD_COMMITTED, Seed.pages_tok(7))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(out, exist_ok=True)
    names = {FULL: "full", SWA: "swa", HYBRID: "hybrid"}
    for scenario in (engine, exhaustion, window_rollback, stale_ids, bad_numbers, bad_creates):
        for t in (FULL, SWA, HYBRID):
            with open(os.path.join(out, f"seed-{scenario.__name__.replace('_', '-')}-{names[t]}"), "wb") as f:
                f.write(scenario(t).b)
    for scenario in (cache_share, cache_pressure):
        with open(os.path.join(out, f"seed-{scenario.__name__.replace('_', '-')}"), "wb") as f:
            f.write(scenario().b)
    # fuzz_tier's seeds go beside the corpus, in corpus-tier/ (fuzz_pools never reads them).
    tier_out = os.path.join(os.path.dirname(os.path.abspath(out)), "corpus-tier")
    os.makedirs(tier_out, exist_ok=True)
    for scenario in (tier_offload, tier_lagging, tier_bad):
        with open(os.path.join(tier_out, f"seed-{scenario.__name__.replace('_', '-')}"), "wb") as f:
            f.write(scenario().b)
    # fuzz_multi's seeds, in corpus-multi/.
    multi_out = os.path.join(os.path.dirname(os.path.abspath(out)), "corpus-multi")
    os.makedirs(multi_out, exist_ok=True)
    for scenario in (multi_share, multi_pressure, multi_bad):
        with open(os.path.join(multi_out, f"seed-{scenario.__name__.replace('_', '-')}"), "wb") as f:
            f.write(scenario().b)


if __name__ == "__main__":
    main()
