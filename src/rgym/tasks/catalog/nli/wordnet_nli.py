"""An NLI set built from WordNet: real words and real lexical relations, labels by logic.

Sentences are short and regular ("every hungry dog buys some violin", "no gift is a large
guitar"), made of WordNet's common nouns (in ten categories: animals, vehicles, instruments,
...), transitive verbs and adjectives that have antonyms. A hypothesis is its premise with one
edit: a word replaced (by a hypernym, a hyponym, a sibling, a word of another category, an
antonym or an unrelated word), an adjective added, dropped or moved to the other noun, a
quantifier or a negation changed, or the words put in another order. Its label is not a rule
of thumb about the edit: it is *computed* from the meaning of both sentences (first-order
logic; every noun phrase refers to something), by checking every small model that agrees with
what WordNet says about the words involved:

- entailment: the hypothesis holds in every model of the premise;
- contradiction: in none;
- neutral: in some and not in others.

So a hypernym entails one way and not the other, and only where the word sits in an upward
position: "some dog buys every violin" entails "some animal buys every violin", while under
"every" or "no" the direction turns ("every animal ..." entails "every dog ..."). Which
quantifier governs a word depends on where it stands, so word order matters; swapping the
subject and the object keeps every word and changes the meaning.

The relations (`Lexicon.*_relation`): within a category a hypernym (any ancestor in WordNet's
is-a graph) is a superset, and two nouns with no common descendant are disjoint; nouns of
different categories are disjoint; a few "role" nouns (gift, prize, ...) are independent of
everything; adjectives with a WordNet antonym link are disjoint, other adjectives independent;
verbs follow their hypernyms and antonyms, and are otherwise independent. The lexicon never
reaches the agent: the task hides /usr/share/wordnet in every sandbox that runs agent code,
and some test pairs join two words whose relation never appears in training (`held`).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import numpy as np

WORDNET = Path("/usr/share/wordnet")
LABELS = ("entailment", "neutral", "contradiction")

# --- 1. reading WordNet's database files (format: wndb(5WN)) --------------------------------


@dataclass
class Synset:
    offset: str
    pos: str  # n, v, a, s
    words: list[str]
    pointers: list[tuple[str, str]]  # (symbol, target offset)
    frames: set[int] = field(default_factory=set)


class WordNet:
    """Random access to WordNet: a synset's offset is its byte offset in `data.<pos>`."""

    POS = {"noun": "n", "verb": "v", "adj": "a"}

    def __init__(self, root: Path = WORDNET):
        if not (root / "data.noun").is_file():
            raise FileNotFoundError(
                f"WordNet's database is not in {root}; install it with "
                "`sudo apt-get install wordnet-base` (Debian/Ubuntu)"
            )
        self.root = root
        self.files = {p: open(root / f"data.{p}", "rb") for p in self.POS}
        self.cache: dict[tuple[str, str], Synset] = {}
        self.first_sense: dict[str, dict[str, str]] = {p: {} for p in self.POS}
        for p in self.POS:  # lemma -> its most frequent sense (listed first)
            with open(root / f"index.{p}", encoding="latin-1") as f:
                for line in f:
                    if not line.startswith(" "):
                        t = line.split()
                        self.first_sense[p][t[0]] = t[-int(t[2])]
        self.count: dict[str, dict[str, int]] = {p: {} for p in self.POS}
        ss_type = {"1": "noun", "2": "verb", "3": "adj"}
        with open(root / "cntlist.rev", encoding="latin-1") as f:
            for line in f:  # sense key, sense number, times tagged in a corpus
                key, number, n = line.split()
                word, _, rest = key.partition("%")
                if number == "1" and rest[0] in ss_type:
                    self.count[ss_type[rest[0]]][word] = int(n)

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def __enter__(self) -> WordNet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def synset(self, pos: str, offset: str) -> Synset:
        got = self.cache.get((pos, offset))
        if got is None:
            f = self.files[pos]
            f.seek(int(offset))
            t = f.readline().decode("latin-1").split(" | ", 1)[0].split()
            n = int(t[3], 16)
            words = [t[4 + 2 * i].split("(")[0] for i in range(n)]  # "hungry(p)": a marker
            i = 4 + 2 * n
            pointers = [(t[i + 1 + 4 * j], t[i + 2 + 4 * j]) for j in range(int(t[i]))]
            i += 1 + 4 * int(t[i])
            frames = set()
            if pos == "verb" and i < len(t):
                frames = {int(t[i + 2 + 3 * j]) for j in range(int(t[i]))}
            got = self.cache[(pos, offset)] = Synset(offset, t[2], words, pointers, frames)
        return got

    def related(self, pos: str, offset: str, symbol: str) -> list[str]:
        return [o for s, o in self.synset(pos, offset).pointers if s == symbol]

    def closure(self, pos: str, offset: str, symbol: str) -> set[str]:
        """Everything reachable by `symbol` pointers ('@' hypernyms, '~' hyponyms)."""
        seen, todo = set(), self.related(pos, offset, symbol)
        while todo:
            o = todo.pop()
            if o not in seen:
                seen.add(o)
                todo.extend(self.related(pos, o, symbol))
        return seen

    def word(self, pos: str, offset: str) -> str | None:
        """The synset's most frequent plain word among those whose main sense it is."""
        words = [
            w
            for w in self.synset(pos, offset).words
            if plain(w) and self.first_sense[pos].get(w) == offset
        ]
        return max(words, key=lambda w: (self.count[pos].get(w, 0), w), default=None)


def plain(word: str) -> bool:
    """One lower-case word of letters (no collocations, names or abbreviations)."""
    return word.isalpha() and word.islower() and len(word) > 2


# --- 2. the lexicon: words, categories and the relations between them ------------------------

NOUN_CATEGORIES = {
    # name: root synset; branches of each are disjoint (no common descendant: no overlap)
    "animal": "00015388",
    "vehicle": "04524313",
    "instrument": "03800933",
    "furniture": "03405725",
    "garment": "03419014",
    "weapon": "04565375",
    "beverage": "07881800",
    "food": "07555863",
    "building": "02913152",
}
ROLE_NOUNS = (
    "gift prize exhibit specimen souvenir purchase donation trophy possession favorite "
    "delivery sample reward"
).split()
"""Nouns that say what something is for, not what it is: independent of every category."""
NOT_ADJECTIVES = set(
    "some all same other many few much little more less first last single each every no "
    "least most whole certain best worst better worse latter former".split()
)
"""Determiner-like adjectives: they would read as quantifiers."""
TRANSITIVE_FRAMES = {8, 9, 10, 11}  # "Somebody/Something ----s somebody/something"
RELATIONS = ("=", "<", ">", "|", "#")
"""Between two predicates a, b: a = b; a < b (a is a subset: a hyponym of b); a > b; a | b
(disjoint); a # b (independent: nothing follows)."""
FLIP = {"=": "=", "<": ">", ">": "<", "|": "|", "#": "#"}


@dataclass
class Lexicon:
    nouns: dict[str, str]  # word -> category
    node: dict[str, str]  # noun or verb -> its synset
    ancestors: dict[str, set[str]]  # synset -> all its hypernyms
    descendants: dict[str, set[str]]  # noun synset -> itself and all its hyponyms
    verbs: list[str]  # base forms
    verb_antonyms: set[frozenset[str]]
    adjectives: list[str]
    adj_antonyms: set[frozenset[str]]
    roles: list[str]

    def noun_relation(self, a: str, b: str) -> str:
        if a == b:
            return "="
        if a in self.roles or b in self.roles:
            return "#"
        if self.nouns[a] != self.nouns[b]:
            return "|"
        na, nb = self.node[a], self.node[b]
        if nb in self.ancestors[na]:
            return "<"
        if na in self.ancestors[nb]:
            return ">"
        return "#" if self.descendants[na] & self.descendants[nb] else "|"

    def verb_relation(self, a: str, b: str) -> str:
        if a == b:
            return "="
        va, vb = self.node[a], self.node[b]
        if vb in self.ancestors[va]:
            return "<"
        if va in self.ancestors[vb]:
            return ">"
        return "|" if frozenset((a, b)) in self.verb_antonyms else "#"

    def adj_relation(self, a: str | None, b: str | None) -> str:
        """Between "a N" and "b N" (None: no adjective), or between adjectives."""
        if a == b:
            return "="
        if a is None:
            return ">"
        if b is None:
            return "<"
        return "|" if frozenset((a, b)) in self.adj_antonyms else "#"

    def np_relation(self, a: tuple[str | None, str], b: tuple[str | None, str]) -> str:
        """Between two noun phrases (adjective or None, noun); adjectives are intersective."""
        adj, noun = self.adj_relation(a[0], b[0]), self.noun_relation(a[1], b[1])
        if "|" in (adj, noun):
            return "|"
        if adj == "=":
            return noun
        if noun == "=":
            return adj
        return adj if adj == noun else "#"

    def pred_relation(self, a: tuple | str, b: tuple | str) -> str:
        """Between one-place predicates: noun phrases (adj, noun) or adjectives (str)."""
        if isinstance(a, str) and isinstance(b, str):
            return self.adj_relation(a, b)
        if isinstance(a, tuple) and isinstance(b, tuple):
            return self.np_relation(a, b)
        np_, adj = (a, b) if isinstance(a, tuple) else (b, a)
        r = "#"
        if np_[0] is not None and self.adj_relation(np_[0], adj) in ("=", "|"):
            r = "<" if np_[0] == adj else "|"  # "hungry dog" < "hungry"; | "full"
        return r if isinstance(a, tuple) else FLIP[r]

    def vocabulary(self) -> set[str]:
        return set(self.nouns) | set(self.verbs) | set(self.adjectives) | set(self.roles)


_LEXICONS: dict[str, Lexicon] = {}


def cached_lexicon(root: Path = WORDNET, **options) -> Lexicon:
    """build_lexicon, once per process for the same arguments (it is only read)."""
    key = repr((str(root), sorted(options.items())))
    if key not in _LEXICONS:
        _LEXICONS[key] = build_lexicon(root, **options)
    return _LEXICONS[key]


def build_lexicon(
    root: Path = WORDNET,
    *,
    categories: Iterable[str] | None = None,
    nouns_per_category: int = 80,
    verbs: int = 120,
    adjective_pairs: int = 30,
) -> Lexicon:
    """Pick common words from WordNet and record what the logic needs to know about them.

    A word stands for its main sense only (WordNet lists senses by frequency). Per category,
    the most frequent nouns are taken (only words seen in WordNet's sense-tagged corpus); a
    synset under two categories is left out. Verbs: the most frequent transitive ones and their
    hypernyms, so that hypernym substitutions exist."""
    with WordNet(root) as wn:
        return _choose(wn, categories, nouns_per_category, verbs, adjective_pairs)


def _choose(
    wn: WordNet,
    categories: Iterable[str] | None,
    nouns_per_category: int,
    verbs: int,
    adjective_pairs: int,
) -> Lexicon:
    cats = list(categories or NOUN_CATEGORIES)
    members = {c: {NOUN_CATEGORIES[c]} | wn.closure("noun", NOUN_CATEGORIES[c], "~") for c in cats}
    shared = set()
    for a, b in itertools.combinations(cats, 2):
        shared |= members[a] & members[b]
    nouns: dict[str, str] = {}
    node: dict[str, str] = {}
    ancestors: dict[str, set[str]] = {}
    descendants: dict[str, set[str]] = {}
    for cat in cats:
        inside = members[cat] - shared
        named = {o: w for o in inside if (w := wn.word("noun", o)) and w not in ROLE_NOUNS}
        named = {o: w for o, w in named.items() if wn.count["noun"].get(w, 0) > 0}
        top = sorted(named, key=lambda o: (-wn.count["noun"][named[o]], named[o]))
        for o in top[:nouns_per_category]:
            if named[o] in nouns:
                continue
            nouns[named[o]], node[named[o]] = cat, o
            ancestors[o] = wn.closure("noun", o, "@")
            descendants[o] = {o} | wn.closure("noun", o, "~")

    def transitive(o: str) -> str | None:
        w = wn.word("verb", o)
        ok = w and w not in nouns and w not in ("be", "have", "do") and wn.count["verb"].get(w)
        return w if ok and wn.synset("verb", o).frames & TRANSITIVE_FRAMES else None

    ranked = sorted(wn.count["verb"].items(), key=lambda kv: (-kv[1], kv[0]))
    verb_of: dict[str, str] = {}  # synset -> word
    for w, _ in ranked:
        o = wn.first_sense["verb"].get(w)
        if len(verb_of) >= verbs:
            break
        if o and transitive(o) == w and o not in verb_of:
            verb_of[o] = w
            for a in sorted(wn.closure("verb", o, "@")):  # hypernyms that are words too
                if a not in verb_of and (h := transitive(a)):
                    verb_of[a] = h
    verb_list = list(verb_of.values())
    for o, w in verb_of.items():
        node[w] = o
        ancestors[o] = wn.closure("verb", o, "@")
    verb_antonyms = {
        frozenset((w, verb_of[t]))
        for w in verb_list
        for t in wn.related("verb", node[w], "!")
        if t in verb_of
    }

    adjectives: list[str] = []
    adj_antonyms: set[frozenset[str]] = set()
    taken = set(nouns) | set(verb_list) | set(ROLE_NOUNS) | NOT_ADJECTIVES
    for w, _ in sorted(wn.count["adj"].items(), key=lambda kv: (-kv[1], kv[0])):
        if len(adj_antonyms) >= adjective_pairs:
            break
        o = wn.first_sense["adj"].get(w)
        if not o or not plain(w) or w in taken or wn.synset("adj", o).pos != "a":
            continue
        for t in wn.related("adj", o, "!"):
            other = wn.word("adj", t) or next(
                (x for x in wn.synset("adj", t).words if plain(x)), None
            )
            if other and other not in taken and other != w:
                adjectives += [w, other]
                adj_antonyms.add(frozenset((w, other)))
                taken |= {w, other}
                break
    return Lexicon(
        nouns=nouns,
        node=node,
        ancestors=ancestors,
        descendants=descendants,
        verbs=verb_list,
        verb_antonyms=verb_antonyms,
        adjectives=adjectives,
        adj_antonyms=adj_antonyms,
        roles=list(ROLE_NOUNS),
    )


# --- 3. meaning: labels by checking every small model -----------------------------------------
#
# A sentence is one of
#   ("T", q1, r1, neg, v, q2, r2)   q1 r1 [does not] v q2 r2   "every dog chases some cat"
#   ("C", q1, r1, neg, p)           q1 r1 is [not] p           "no gift is a large violin"
# with quantifiers "every", "some", "no", "notevery"; r1, r2, p one-place predicates (unary
# atoms, by number) and v a two-place one (a binary atom: the verb, subject first). A pair of
# sentences comes with the relation between every two atoms of the same kind (RELATIONS).
# `label` checks all models with up to `domain` individuals in which every one-place predicate
# is non-empty (a noun phrase always refers to something) and the relations hold.
#
# Two-place predicates are never enumerated whole: both sentences of a pair read the verb as
# v(subject, object), so each individual x contributes through its own row v(x, .) alone, and
# rows are independent. For every unary model we collect which (premise, hypothesis) values of
# "x [does not] v q2 r2" some row achieves, then combine those per x.

QUANTIFIERS = ("every", "some", "no", "notevery")
MAX_DOMAIN = 3


def _allowed(rel: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return {
        "=": a == b,
        "<": ~a | b,
        ">": a | ~b,
        "|": ~(a & b),
        "#": np.ones_like(a),
    }[rel]


def _cells(n: int, rels: dict[tuple[int, int], str]) -> np.ndarray:
    """The truth-value rows (n atoms) allowed at one point: an individual, or a pair of them."""
    rows = np.array(list(itertools.product([False, True], repeat=n)), dtype=bool).reshape(-1, n)
    ok = np.ones(len(rows), dtype=bool)
    for (i, j), rel in rels.items():
        ok &= _allowed(rel, rows[:, i], rows[:, j])
    return rows[ok]


def _tuples(cells: np.ndarray, d: int) -> np.ndarray:
    """Every way to give each of d points one of `cells`: (N, n atoms, d)."""
    idx = np.array(list(itertools.product(range(len(cells)), repeat=d)), dtype=np.int64)
    return cells[idx].transpose(0, 2, 1)


def _quantify(q: str, restrictor: np.ndarray, scope: np.ndarray) -> np.ndarray:
    """Q(restrictor, scope) over the last axis."""
    if q in ("every", "notevery"):
        out = (~restrictor | scope).all(axis=-1)
        return ~out if q == "notevery" else out
    out = (restrictor & scope).any(axis=-1)
    return ~out if q == "no" else out


def _values(premise: tuple, hypothesis: tuple, urel: dict, brel: dict, m: int, d: int):
    """(P, H, valid): truth values of both sentences, shape (unary models, combinations)."""
    unary = _tuples(_cells(1 + max(_unary_atoms(premise) + _unary_atoms(hypothesis)), urel), d)
    unary = unary[unary.any(axis=2).all(axis=1)]  # every predicate non-empty
    if premise[0] == "C":
        p, h = (
            _quantify(s[1], unary[:, s[2]], unary[:, s[4]] ^ s[3]) for s in (premise, hypothesis)
        )
        return p[:, None], h[:, None], np.ones((len(unary), 1), dtype=bool)
    rows = _tuples(_cells(m, brel), d)  # (Nr, m, d): one individual's row of each verb

    def inner(s):  # (Nu, Nr): does x [not] v q2 r2, for a row of v
        return _quantify(s[5], unary[:, None, s[6]], rows[None, :, s[4]]) ^ s[3]

    code = inner(premise) * 2 + inner(hypothesis)  # (Nu, Nr) in 0..3
    reached = np.stack([(code == c).any(axis=1) for c in range(4)], axis=1)  # (Nu, 4)
    choice = np.array(list(itertools.product(range(4), repeat=d)), dtype=np.int64)  # (C, d)
    valid = reached[:, choice].all(axis=2)  # (Nu, C): every x's pair is reachable
    a, b = (choice >> 1).astype(bool), (choice & 1).astype(bool)
    p = _quantify(premise[1], unary[:, None, premise[2]], a[None])
    h = _quantify(hypothesis[1], unary[:, None, hypothesis[2]], b[None])
    return p, h, valid


@cache
def label(
    premise: tuple, hypothesis: tuple, urel: tuple, brel: tuple, domain: int = MAX_DOMAIN
) -> str | None:
    """entailment / neutral / contradiction, or None where the premise or the hypothesis is
    true in every model or in none (a degenerate pair, left out of the data).

    `urel`, `brel`: ((i, j, relation), ...) between the unary and the binary atoms, i < j."""
    m = 1 + max((s[4] for s in (premise, hypothesis) if s[0] == "T"), default=-1)
    ur = {(i, j): r for i, j, r in urel}
    br = {(i, j): r for i, j, r in brel}
    both = p_not_h = p_true = p_false = h_true = h_false = False
    for d in range(1, domain + 1):
        p, h, valid = _values(premise, hypothesis, ur, br, m, d)
        both |= (p & h & valid).any()
        p_not_h |= (p & ~h & valid).any()
        p_true |= (p & valid).any()
        p_false |= (~p & valid).any()
        h_true |= (h & valid).any()
        h_false |= (~h & valid).any()
    if not (p_true and p_false and h_true and h_false):
        return None
    if not p_not_h:
        return "entailment"
    return "neutral" if both else "contradiction"


def _unary_atoms(s: tuple) -> list[int]:
    return [s[2], s[6]] if s[0] == "T" else [s[2], s[4]]


# --- 4. sentences, edits and the data set ------------------------------------------------------

SURFACE = {
    "every": "every",
    "each": "every",
    "some": "some",
    "a": "some",
    "no": "no",
    "not every": "notevery",
}
SUBJECT_Q = ("every", "each", "some", "a", "no", "not every")
OBJECT_Q = ("every", "each", "some", "a", "no")
EDITS = {
    "noun": 0.3,
    "verb": 0.12,
    "adjective": 0.15,
    "quantifier": 0.1,
    "negation": 0.05,
    "swap": 0.18,
    "move": 0.1,
}
"""How often each kind of edit is tried (labels are balanced afterwards)."""
EDIT_KINDS, EDIT_WEIGHTS = list(EDITS), list(EDITS.values())

NP = tuple[str | None, str]  # (adjective or None, noun)


@dataclass(frozen=True)
class Sentence:
    form: str  # "T": transitive verb; "C": copula ("is [not] a N" or "is [not] ADJ")
    q1: str
    np1: NP
    neg: bool
    verb: str | None = None
    q2: str | None = None
    np2: NP | None = None
    pred: NP | str | None = None  # C only: a noun phrase or an adjective


def third_person(verb: str) -> str:
    if verb.endswith(("s", "x", "z", "ch", "sh", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _np(q: str, np_: NP) -> list[str]:
    words = [w for w in (np_[0], np_[1]) if w]
    if q == "a" and words[0][0] in "aeiou":
        q = "an"
    return [q, *words]


def render(s: Sentence) -> str:
    out = _np(s.q1, s.np1)
    if s.form == "T":
        out += ["does", "not", s.verb] if s.neg else [third_person(s.verb)]
        out += _np(s.q2, s.np2)
    else:
        out += ["is", "not"] if s.neg else ["is"]
        out += _np("a", s.pred) if isinstance(s.pred, tuple) else [s.pred]
    return " ".join(out)


def meaning(lex: Lexicon, p: Sentence, h: Sentence) -> tuple[tuple, tuple, tuple, tuple]:
    """The pair as `label` takes it: atoms numbered in order of appearance, with relations."""
    unary: list = []
    binary: list[str] = []

    def atom(x, pool):
        if x not in pool:
            pool.append(x)
        return pool.index(x)

    def abstract(s: Sentence) -> tuple:
        if s.form == "T":
            r1, v, r2 = atom(s.np1, unary), atom(s.verb, binary), atom(s.np2, unary)
            return ("T", SURFACE[s.q1], r1, s.neg, v, SURFACE[s.q2], r2)
        return ("C", SURFACE[s.q1], atom(s.np1, unary), s.neg, atom(s.pred, unary))

    ap, ah = abstract(p), abstract(h)
    urel = tuple(
        (i, j, lex.pred_relation(unary[i], unary[j]))
        for i, j in itertools.combinations(range(len(unary)), 2)
    )
    brel = tuple(
        (i, j, lex.verb_relation(binary[i], binary[j]))
        for i, j in itertools.combinations(range(len(binary)), 2)
    )
    return ap, ah, urel, brel


class Generator:
    """Premises, edits and labels from one lexicon; all randomness from `rng`.

    `held(a, b)` says whether a word pair is kept out of training: test pairs that use such a
    pair need a relation the model never saw between those two words."""

    def __init__(self, lex: Lexicon, rng: random.Random, held_salt: int, held_frac: float):
        self.lex, self.rng = lex, rng
        self.salt, self.frac = held_salt, held_frac
        # sorted: the data must not depend on the order the lexicon was built in
        self.taxonomy, self.roles = sorted(lex.nouns), sorted(lex.roles)
        self.verbs, self.adjectives = sorted(lex.verbs), sorted(lex.adjectives)
        self.pools = {
            "noun": (self.taxonomy, lex.noun_relation),
            "role": (self.roles, lex.noun_relation),
            "verb": (self.verbs, lex.verb_relation),
            "adjective": (self.adjectives, lex.adj_relation),
        }
        self.groups: dict[tuple[str, str], dict[tuple[str, bool], list[str]]] = {}

    def held(self, a: str, b: str) -> bool:
        x, y = sorted((a, b))
        digest = hashlib.sha256(f"{self.salt}:{x}:{y}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.frac

    def pick(self, items, weights=None):
        if weights is None:
            return items[int(self.rng.random() * len(items))]
        return self.rng.choices(items, weights)[0]

    def noun_phrase(self, nouns: list[str], adj_prob: float = 0.25) -> NP:
        adj = self.pick(self.adjectives) if self.rng.random() < adj_prob else None
        return (adj, self.pick(nouns))

    def premise(self) -> Sentence:
        kind = self.pick(["T", "Cadj", "Cnoun"], [0.6, 0.2, 0.2])
        q1 = self.pick(SUBJECT_Q, [3, 2, 3, 2, 2, 2])
        neg = bool(self.rng.random() < 0.2)
        if kind == "T":
            q2 = self.pick(OBJECT_Q[:4] if neg else OBJECT_Q)
            np1, np2 = self.noun_phrase(self.taxonomy), self.noun_phrase(self.taxonomy)
            return Sentence("T", q1, np1, neg, self.pick(self.verbs), q2, np2)
        if kind == "Cadj":
            return Sentence(
                "C", q1, self.noun_phrase(self.taxonomy), neg, pred=self.pick(self.adjectives)
            )
        return Sentence(
            "C",
            q1,
            self.noun_phrase(self.roles),
            neg,
            pred=self.noun_phrase(self.taxonomy, 0.15),
        )

    # each edit returns (hypothesis, word pair or None) or None when it does not apply
    def substitute(self, old: str, pool: str, want_held: bool | None) -> str | None:
        """A replacement for `old` from a pool of words, with the relation chosen first (so
        that rare relations such as hypernymy are as common as disjointness); `want_held`:
        only word pairs kept out of training (True), only others (False), or any (None)."""
        if (old, pool) not in self.groups:
            words, rel = self.pools[pool]
            groups: dict[tuple[str, bool], list[str]] = {}
            for w in words:
                if w != old:
                    groups.setdefault((rel(old, w), self.held(old, w)), []).append(w)
            self.groups[(old, pool)] = groups
        groups = self.groups[(old, pool)]
        rels = sorted({r for r, h in groups if want_held is None or h == want_held})
        if not rels:
            return None
        r = self.pick(rels)
        return self.pick(
            [w for h in (False, True) if want_held in (None, h) for w in groups.get((r, h), [])]
        )

    def edit(self, p: Sentence, kind: str, want_held: bool | None):
        if kind == "noun":
            slots = ["np1", "np2"] if p.form == "T" else ["np1"]
            if p.form == "C" and isinstance(p.pred, tuple):
                slots.append("pred")
            slot = self.pick(slots)
            adj, noun = getattr(p, slot)
            new = self.substitute(noun, "role" if noun in self.roles else "noun", want_held)
            return new and (replace(p, **{slot: (adj, new)}), (noun, new))
        if kind == "verb" and p.form == "T":
            new = self.substitute(p.verb, "verb", want_held)
            return new and (replace(p, verb=new), (p.verb, new))
        if kind == "adjective":
            slots = ["np1", "np2"] if p.form == "T" else ["np1", "pred"]
            slot = self.pick(slots)
            value = getattr(p, slot)
            if isinstance(value, str):  # a predicate adjective: antonym or another one
                new = self.substitute(value, "adjective", want_held)
                return new and (replace(p, pred=new), (value, new))
            adj, noun = value
            if adj is None:  # add one
                new = self.pick(self.adjectives)
                return replace(p, **{slot: (new, noun)}), None
            if self.rng.random() < 0.4:  # drop it
                return replace(p, **{slot: (None, noun)}), None
            new = self.substitute(adj, "adjective", want_held)
            return new and (replace(p, **{slot: (new, noun)}), (adj, new))
        if kind == "quantifier":
            if p.form == "T" and self.rng.random() < 0.5:
                allowed = OBJECT_Q[:4] if p.neg else OBJECT_Q
                return replace(p, q2=self.pick([q for q in allowed if q != p.q2])), None
            return replace(p, q1=self.pick([q for q in SUBJECT_Q if q != p.q1])), None
        if kind == "negation":
            if p.form == "T" and not p.neg and p.q2 == "no":
                return None
            return replace(p, neg=not p.neg), None
        if kind == "swap" and p.form == "T":  # the same words in another order
            how = self.rng.random()
            if how < 0.3:  # the noun phrases trade places, quantifiers stay
                return replace(p, np1=p.np2, np2=p.np1), None
            if how < 0.6:  # the quantifiers trade places
                h = replace(p, q1=p.q2, q2=p.q1)
            else:  # whole noun phrases, quantifiers included
                h = replace(p, q1=p.q2, np1=p.np2, q2=p.q1, np2=p.np1)
            if h.q2 not in OBJECT_Q or (h.neg and h.q2 == "no"):
                return None
            return h, None
        if kind == "move":  # the one adjective moves to the other noun phrase
            other = "np2" if p.form == "T" else "pred"
            second = getattr(p, other)
            if not isinstance(second, tuple) or (p.np1[0] is None) == (second[0] is None):
                return None
            moved = {"np1": (second[0], p.np1[1]), other: (p.np1[0], second[1])}
            return replace(p, **moved), None
        return None

    def example(self, want_held: bool | None) -> tuple[str, str, str, str, tuple | None] | None:
        """One (premise, hypothesis, label, edit kind, word pair), or None (try again)."""
        p = self.premise()
        kind = self.pick(EDIT_KINDS, EDIT_WEIGHTS)
        got = self.edit(p, kind, want_held)
        if not got:
            return None
        h, pair = got
        if h == p:
            return None
        lab = label(*meaning(self.lex, p, h))
        if lab is None:
            return None
        return render(p), render(h), lab, kind, pair


def generate(
    lex: Lexicon,
    seed: int,
    *,
    n_train: int,
    n_hidden: int,
    held_salt: int,
    held_frac: float = 0.25,
    hidden_held: float = 0.5,
) -> tuple[list[dict], list[dict]]:
    """Train and hidden pairs, each with balanced labels.

    No training pair uses a held-out word pair; about `hidden_held` of the hidden pairs whose
    edit replaces a word do. No (premise, hypothesis) occurs twice."""
    rng = random.Random(seed)
    gen = Generator(lex, rng, held_salt, held_frac)
    seen: set[tuple[str, str]] = set()

    def fill(n: int, held_share: float | None) -> list[dict]:
        want = {lab: n // 3 + (i < n % 3) for i, lab in enumerate(LABELS)}
        out: list[dict] = []
        tries = 0
        while any(want.values()):
            tries += 1
            if tries > 200 * n + 10_000:
                raise RuntimeError("could not fill the labels (the lexicon is too small?)")
            held = False if held_share is None else rng.random() < held_share
            ex = gen.example(held)
            if ex is None or want[ex[2]] == 0 or (ex[0], ex[1]) in seen:
                continue
            seen.add((ex[0], ex[1]))
            want[ex[2]] -= 1
            out.append(
                {
                    "premise": ex[0],
                    "hypothesis": ex[1],
                    "label": ex[2],
                    "edit": ex[3],
                    "held_pair": bool(ex[4] is not None and gen.held(*ex[4])),
                }
            )
        rng.shuffle(out)
        return out

    train = fill(n_train, None)
    hidden = fill(n_hidden, hidden_held)
    return train, hidden
