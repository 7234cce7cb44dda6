#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/ (seed-*): engine-like scenarios encoded in the input
format of fuzz/harness.hpp (docs/fuzzing.md), so fuzzing starts from deep, meaningful states.
Usage: fuzz/seeds.py [out_dir=fuzz/corpus]"""
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


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(out, exist_ok=True)
    names = {FULL: "full", SWA: "swa", HYBRID: "hybrid"}
    for scenario in (engine, exhaustion, window_rollback, stale_ids, bad_numbers, bad_creates):
        for t in (FULL, SWA, HYBRID):
            with open(os.path.join(out, f"seed-{scenario.__name__.replace('_', '-')}-{names[t]}"), "wb") as f:
                f.write(scenario(t).b)


if __name__ == "__main__":
    main()
