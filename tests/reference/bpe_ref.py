#!/usr/bin/python3
"""bpe_ref.py - an independent GPT-2 byte-level BPE encoder to check duo's.

Usage: bpe_ref.py DIR

DIR holds what tests/tokenizer_dump wrote: model.gguf (the tokenizer keys
as duo writes them), train.text (the text it was trained on) and, for every
case, case-N.bin (the input bytes) and case-N.ids (duo's token ids, one a
line).  This script reads the vocabulary and merges from the GGUF file with
its own parser, encodes every input the way OpenAI's GPT-2 encoder does
(bytes_to_unicode, the regular expression split, bpe() by merge rank), and
compares the ids token for token.

For up to MAX_TRAIN_MERGES merges it also learns merges from train.text
with its own BPE trainer and compares them with the file's: pairs counted
over the distinct pieces, the tie-break (joined bytes sorting first, then
the lower left id, then the lower right id), the rule that a pair whose
joined bytes already are a token is never merged, and the stop when no
pair occurs twice.

Input that is not valid UTF-8: duo's PCRE2 matcher lets no match cross an
invalid sequence, and makes each maximal run of invalid bytes one piece.
Here the bytes are decoded with surrogateescape, the pattern runs on each
valid stretch on its own, and each run of escaped bytes is one piece.

Known divergence, avoided by the inputs: PCRE2 10.42 and the regex module
differ on U+180E and on letters added in Unicode 15.

Exit status: 0 all equal, 1 a difference, 99 unreadable input.
"""

import os
import struct
import sys

import regex

PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"""
    r"""|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """The printable code point standing for each byte value."""
    printable = (list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) +
                 list(range(0xAE, 0x100)))
    table = {}
    extra = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(0x100 + extra)
            extra += 1
    return table


class Reader:
    """Just enough of GGUF v3 to read the tokenizer keys."""

    SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i",
               6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, fmt):
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self):
        n = self.take("<Q")
        raw = self.data[self.pos:self.pos + n]
        if len(raw) != n:
            raise ValueError("string past the end of the file")
        self.pos += n
        return raw.decode("utf-8")

    def value(self, kind):
        if kind in self.SCALARS:
            return self.take(self.SCALARS[kind])
        if kind == 8:
            return self.string()
        if kind == 9:
            element = self.take("<I")
            count = self.take("<Q")
            return [self.value(element) for _ in range(count)]
        raise ValueError("unknown value type %d" % kind)

    def keys(self):
        if self.data[:4] != b"GGUF":
            raise ValueError("not a GGUF file")
        self.pos = 4
        version = self.take("<I")
        if version != 3:
            raise ValueError("GGUF version %d" % version)
        self.take("<Q")                      # tensor count
        n_kv = self.take("<Q")
        kv = {}
        for _ in range(n_kv):
            key = self.string()
            kv[key] = self.value(self.take("<I"))
        return kv


def get_pairs(word):
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


def bpe(token, ranks):
    """GPT-2's bpe(): merge the lowest-ranked pair everywhere, repeat."""
    word = tuple(token)
    pairs = get_pairs(word)
    while pairs:
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        first, second = best
        merged = []
        i = 0
        while i < len(word):
            if (i + 1 < len(word) and word[i] == first and
                    word[i + 1] == second):
                merged.append(first + second)
                i += 2
            else:
                merged.append(word[i])
                i += 1
        word = tuple(merged)
        pairs = get_pairs(word)
    return word


def pieces(data):
    """Pre-tokens of a byte string, as byte strings."""
    text = data.decode("utf-8", errors="surrogateescape")
    out = []
    i = 0
    while i < len(text):
        j = i
        if "\udc80" <= text[i] <= "\udcff":
            while j < len(text) and "\udc80" <= text[j] <= "\udcff":
                j += 1
            out.append(text[i:j].encode("utf-8", errors="surrogateescape"))
        else:
            while j < len(text) and not "\udc80" <= text[j] <= "\udcff":
                j += 1
            for m in PATTERN.findall(text[i:j]):
                out.append(m.encode("utf-8"))
        i = j
    return out


MAX_TRAIN_MERGES = 5000


def train(data, n_merges):
    """Learn up to n_merges merges; ids: bytes, then one per merge.

    Pair counts are kept up to date word by word, with the pairs of each
    count in a bucket; the best pair is the least (joined bytes, left id,
    right id) in the bucket of the highest count."""
    counts = {}
    for piece in pieces(data):
        counts[piece] = counts.get(piece, 0) + 1
    words = [[list(piece), n] for piece, n in counts.items()]
    token = [bytes([b]) for b in range(256)]
    known = set(token)
    banned = set()
    pair_counts = {}
    bucket = {}
    where = {}

    def count_word(i, sign):
        symbols, n = words[i]
        for pair in zip(symbols, symbols[1:]):
            if pair in banned:
                continue
            old = pair_counts.get(pair, 0)
            new = old + sign * n
            if old:
                bucket[old].discard(pair)
                if not bucket[old]:
                    del bucket[old]
            if new:
                pair_counts[pair] = new
                bucket.setdefault(new, set()).add(pair)
            else:
                del pair_counts[pair]
            if sign > 0:
                where.setdefault(pair, set()).add(i)

    for i in range(len(words)):
        count_word(i, 1)
    merges = []
    while len(merges) < n_merges:
        best = None
        while bucket and best is None:
            top = max(bucket)
            if top < 2:
                break
            joined, a, b = min((token[a] + token[b], a, b)
                               for a, b in bucket[top])
            if joined in known:
                banned.add((a, b))
                del pair_counts[(a, b)]
                bucket[top].discard((a, b))
                if not bucket[top]:
                    del bucket[top]
            else:
                best = (joined, a, b)
        if best is None:
            break
        joined, a, b = best
        new = len(token)
        token.append(joined)
        known.add(joined)
        merges.append((a, b))
        for i in sorted(where.pop((a, b))):
            symbols = words[i][0]
            count_word(i, -1)
            out, k = [], 0
            while k < len(symbols):
                if (k + 1 < len(symbols) and symbols[k] == a and
                        symbols[k + 1] == b):
                    out.append(new)
                    k += 2
                else:
                    out.append(symbols[k])
                    k += 1
            words[i][0] = out
            count_word(i, 1)
    return token, merges


def check_training(folder, tokens, merges, byte_text):
    """Compare the file's merges with plain training; count differences."""
    with open(os.path.join(folder, "train.text"), "rb") as f:
        data = f.read()
    token, learned = train(data, len(tokens) - 257)
    text = ["".join(byte_text[b] for b in t) for t in token]
    want = ["%s %s" % (text[a], text[b]) for a, b in learned]
    if want == merges and text == tokens[:len(text)]:
        print("bpe_ref: training reproduces all %d merges" % len(want))
        return 0
    at = next((i for i in range(min(len(want), len(merges)))
               if want[i] != merges[i]), min(len(want), len(merges)))
    print("FAIL training: %d merges, reference %d; first difference at "
          "merge %d: %r vs %r" % (len(merges), len(want), at,
                                  merges[at:at + 1], want[at:at + 1]))
    return 1


def encode(data, encoder, ranks, byte_text, cache):
    ids = []
    for piece in pieces(data):
        if piece not in cache:
            mapped = "".join(byte_text[b] for b in piece)
            cache[piece] = [encoder[t] for t in bpe(mapped, ranks)]
        ids.extend(cache[piece])
    return ids


def main():
    if len(sys.argv) != 2:
        print("usage: bpe_ref.py DIR", file=sys.stderr)
        return 99
    folder = sys.argv[1]
    try:
        with open(os.path.join(folder, "model.gguf"), "rb") as f:
            kv = Reader(f.read()).keys()
        tokens = kv["tokenizer.ggml.tokens"]
        merges = kv["tokenizer.ggml.merges"]
        types = kv["tokenizer.ggml.token_type"]
    except (OSError, ValueError, KeyError, struct.error) as e:
        print("bpe_ref: %s: %s" % (folder, e), file=sys.stderr)
        return 99
    # Control tokens are never produced from text.
    encoder = {t: i for i, t in enumerate(tokens) if types[i] != 3}
    ranks = {tuple(m.split(" ")): r for r, m in enumerate(merges)}
    byte_text = bytes_to_unicode()
    cache = {}
    cases = sorted(name for name in os.listdir(folder)
                   if name.startswith("case-") and name.endswith(".bin"))
    failures = 0
    n_tokens = 0
    for name in cases:
        base = os.path.join(folder, name[:-4])
        with open(base + ".bin", "rb") as f:
            data = f.read()
        with open(base + ".ids") as f:
            got = [int(line) for line in f if line.strip()]
        want = encode(data, encoder, ranks, byte_text, cache)
        n_tokens += len(want)
        if got != want:
            failures += 1
            at = next((i for i in range(min(len(got), len(want)))
                       if got[i] != want[i]), min(len(got), len(want)))
            print("FAIL %s: %d ids, reference %d; first difference at "
                  "token %d: %s vs %s" % (name, len(got), len(want), at,
                                          got[at:at + 5], want[at:at + 5]))
    print("bpe_ref: %d cases, %d tokens, vocabulary %d, %d merges, "
          "%d differ" % (len(cases), n_tokens, len(tokens), len(merges),
                         failures))
    if not cases:
        return 99
    if len(merges) <= MAX_TRAIN_MERGES:
        failures += check_training(folder, tokens, merges, byte_text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
