#!/usr/bin/env python3
"""Differential check of verstore's top-k scorer (test_search_topk.sh).

  search_topk.py load URL          index the generated documents (seeded)
  search_topk.py query URL OUT     run the generated queries, answers to OUT (JSON)
  search_topk.py compare A B       every answer of A equal to B's: hits (ids,
                                   scores), totals, max_score; TAP lines

Documents: a Zipf vocabulary (the k-th word has weight 1/k), some
multi-valued fields, overwrites and deletes. Queries: match of 1-4 words,
or / and / minimum_should_match, sizes 1, 10, 100, from > 0, the
track_total_hits variants, single text terms, and match_phrase of 2-3
common words, exact and sloppy."""
import json
import random
import sys
import urllib.request

SEED = 17
NDOCS = 10000
VOCAB = 400


def req(url, method, path, body=None, ndjson=False):
    data = None
    headers = {}
    if body is not None:
        data = body.encode() if ndjson else json.dumps(body).encode()
        headers["Content-Type"] = "application/x-ndjson" if ndjson else "application/json"
    r = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def words():
    syl = ["ba", "di", "ku", "mo", "ne", "pa", "ri", "so", "tu", "ve", "xa", "zo"]
    rnd = random.Random(SEED)
    out = set()
    while len(out) < VOCAB:
        out.add("".join(rnd.choice(syl) for _ in range(rnd.randint(2, 3))))
    return sorted(out)


def zipf_pick(rnd, vocab, cum):
    x = rnd.random() * cum[-1]
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return vocab[lo]


def cumulative(n):
    cum, s = [], 0.0
    for k in range(1, n + 1):
        s += 1.0 / k
        cum.append(s)
    return cum


def text(rnd, vocab, cum):
    return " ".join(zipf_pick(rnd, vocab, cum) for _ in range(rnd.randint(2, 14)))


def load(url):
    vocab, cum = words(), cumulative(VOCAB)
    rnd = random.Random(SEED + 1)
    st, _ = req(url, "PUT", "/topk", {"mappings": {"properties": {"t": {"type": "text"}, "n": {"type": "long"}}}})
    assert st == 200, st
    lines = []
    for i in range(NDOCS):
        doc = {"n": i}
        if rnd.random() < 0.15:
            doc["t"] = [text(rnd, vocab, cum) for _ in range(rnd.randint(2, 3))]
        elif rnd.random() < 0.97:
            doc["t"] = text(rnd, vocab, cum)
        lines.append(json.dumps({"index": {"_id": str(i)}}))
        lines.append(json.dumps(doc))
    for _ in range(400):  # overwrites: new seqs, old postings gone
        i = rnd.randrange(NDOCS)
        lines.append(json.dumps({"index": {"_id": str(i)}}))
        lines.append(json.dumps({"n": i, "t": text(rnd, vocab, cum)}))
    for _ in range(250):
        lines.append(json.dumps({"delete": {"_id": str(rnd.randrange(NDOCS))}}))
    for k in range(0, len(lines), 2000):
        st, body = req(url, "POST", "/topk/_bulk", "\n".join(lines[k:k + 2000]) + "\n", ndjson=True)
        assert st == 200, (st, body)
    st, _ = req(url, "POST", "/topk/_refresh")
    assert st == 200


def queries():
    vocab = words()
    rnd = random.Random(SEED + 2)
    out = []
    for i in range(220):
        nw = rnd.randint(1, 4)
        # log-uniform by rank: common and rare words alike
        ws = [vocab[min(VOCAB - 1, int(VOCAB ** rnd.random()) - 1)] for _ in range(nw)]
        if i % 23 == 0:
            ws.append("nosuchword")
        m = {"query": " ".join(ws)}
        op = rnd.choice(["or", "or", "and", "msm"])
        if op == "and":
            m["operator"] = "and"
        elif op == "msm":
            m["minimum_should_match"] = rnd.choice(["2", "75%", "-1", "1"])
        q = {"match": {"t": m}}
        if i % 17 == 0:
            q = {"term": {"t": {"value": ws[0]}}}
        body = {"query": q, "size": rnd.choice([1, 10, 10, 100]), "_source": False}
        if rnd.random() < 0.3:
            body["from"] = rnd.choice([1, 5, 30])
        tth = rnd.choice([None, None, None, 5, 50, True, False])
        if tth is not None:
            body["track_total_hits"] = tth
        if i % 11 == 0:
            body["sort"] = ["_score"]
        if i % 13 == 0:
            m["boost"] = 2.5
        out.append(body)
    # phrases of 2-3 of the commoner words (so that they occur), exact and
    # sloppy; a sloppy one repeating a word is left to the exhaustive path
    for i in range(140):
        ws = [vocab[min(VOCAB - 1, int(VOCAB ** (0.6 * rnd.random())) - 1)] for _ in range(rnd.choice([2, 2, 3]))]
        m = {"query": " ".join(ws)}
        if i % 3 == 1:
            m["slop"] = rnd.choice([1, 2, 5])
        if i % 13 == 0:
            m["boost"] = 0.5
        body = {"query": {"match_phrase": {"t": m}}, "size": rnd.choice([1, 10, 10, 100]), "_source": False}
        if rnd.random() < 0.3:
            body["from"] = rnd.choice([1, 5, 30])
        tth = rnd.choice([None, 5, 50, 50, True, False])
        if tth is not None:
            body["track_total_hits"] = tth
        out.append(body)
    return out


def run(url, path):
    answers = []
    for body in queries():
        st, a = req(url, "POST", "/topk/_search", body)
        hits = a.get("hits", {}) if st == 200 else {}
        answers.append({"status": st, "total": hits.get("total"), "max_score": hits.get("max_score"),
                        "hits": [[h["_id"], h.get("_score"), h.get("sort")] for h in hits.get("hits", [])]})
    with open(path, "w") as f:
        json.dump(answers, f)


def compare(pa, pb):
    a, b = json.load(open(pa)), json.load(open(pb))
    qs = queries()
    n = 1
    bad = 0
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            bad += 1
            if bad <= 5:
                print("# query %d: %s\n#  top-k:      %s\n#  exhaustive: %s" % (
                    i, json.dumps(qs[i]), json.dumps(x)[:600], json.dumps(y)[:600]))
    print(("ok" if not bad and len(a) == len(b) == len(qs) else "not ok") +
          " %d - the top-k answers of %d queries equal the exhaustive ones (%d differ)" % (n, len(qs), bad))
    n += 1
    gte = sum(1 for x in a if isinstance(x["total"], dict) and x["total"]["relation"] == "gte")
    print(("ok" if gte > 10 else "not ok") + " %d - some queries had more matches than they count (%d)" % (n, gte))
    n += 1
    empty = sum(1 for x in a if x["hits"])
    print(("ok" if empty > len(a) // 2 else "not ok") + " %d - most queries found hits (%d)" % (n, empty))
    n += 1
    ph = [(q, x) for q, x in zip(qs, a) if "match_phrase" in q["query"]]
    found = sum(1 for q, x in ph if x["hits"])
    gte = sum(1 for q, x in ph if isinstance(x["total"], dict) and x["total"]["relation"] == "gte")
    sloppy = sum(1 for q, x in ph if x["hits"] and q["query"]["match_phrase"]["t"].get("slop"))
    print(("ok" if found > len(ph) // 2 and gte > 10 and sloppy > 10 else "not ok") +
          " %d - of %d phrase queries, %d found hits, %d sloppy ones, %d had more matches than they count" % (
              n, len(ph), found, sloppy, gte))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "load":
        load(sys.argv[2])
    elif cmd == "query":
        run(sys.argv[2], sys.argv[3])
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3])
