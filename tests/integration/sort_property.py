#!/usr/bin/env python3
"""sort_property.py URL SEED ROUNDS -- property test of verstore's sort.

Indexes random documents (values unique and shared, single and multi-valued,
some missing, one field of each sortable type), then for random sort specs
(every direction, one to three keys, several page sizes) compares verstore's
hits with a sort done here the way Elasticsearch 8 defines it: `asc` takes a
multi-valued field's minimum and `desc` its maximum, missing values sort last
in both directions, and each hit's `sort` array holds its own values. Ties are
not ordered by the spec, so the check is on the sequence of sort keys, plus
each hit's keys being its own document's. Prints TAP lines.
"""
import json
import random
import sys
import urllib.request

URL, SEED, ROUNDS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(SEED)
INDEX = "sortprop"
FIELDS = {"l": "long", "i": "integer", "d": "double", "f": "float",
          "k": "keyword", "t": "date", "b": "boolean",
          "u": "unsigned_long", "n": "date_nanos"}
n_ok = n_fail = 0


def req(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(URL + path, data=data, method=method,
                               headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def tap(good, desc, detail=""):
    global n_ok, n_fail
    if good:
        n_ok += 1
        print("ok - %s" % desc)
    else:
        n_fail += 1
        print("not ok - %s" % desc)
        if detail:
            print("#   " + detail.replace("\n", "\n#   "))
    sys.stdout.flush()


def gen_value(field, pool):
    """A value from the shared pool half the time, else a fresh one."""
    if pool[field] and rnd.random() < 0.5:
        return rnd.choice(pool[field])
    t = FIELDS[field]
    if t in ("long", "integer"):
        v = rnd.randint(-1000, 1000) * (1 if t == "integer" else rnd.choice([1, 1000003]))
    elif t in ("double", "float"):
        v = rnd.randint(-4000, 4000) / 4.0     # exact in a float32 too
    elif t == "keyword":
        v = "".join(rnd.choice("abcXYZ09") for _ in range(rnd.randint(1, 5)))
    elif t == "date":
        v = rnd.randint(0, 4000000000) * 1000
    elif t == "unsigned_long":
        # both halves of 0 … 2^64-1 and next to its ends: Elasticsearch sorts a
        # missing value as the type's extreme (0 or 2^64-1, as Long.MIN/MAX_VALUE
        # for long), which ties with a real 0 or 2^64-1 rather than after it
        v = rnd.choice([1, 2**63 - 1, 2**63, 2**64 - 2, rnd.randint(1, 2**64 - 2), rnd.randint(1, 1000)])
    elif t == "date_nanos":      # epoch_millis with the nanoseconds as its fraction
        ns = rnd.randint(0, 2**63 - 2)  # below the missing-last substitute, as above
        v = "%d.%06d" % (ns // 10**6, ns % 10**6)
    else:
        v = rnd.random() < 0.5
    pool[field].append(v)
    return v


def sort_value(field, v):
    """The value Elasticsearch reports in `sort` for a stored value."""
    t = FIELDS[field]
    if t == "boolean":
        return 1 if v else 0
    if t in ("double", "float"):
        return float(v)
    if t == "date_nanos":        # reported in nanoseconds
        ms, frac = v.split(".")
        return int(ms) * 10**6 + int(frac)
    return v


def main():
    req("DELETE", "/" + INDEX)
    st, body = req("PUT", "/" + INDEX, {"mappings": {"properties": {
        f: {"type": t} for f, t in FIELDS.items()}}})
    tap(st == 200, "create the index", json.dumps(body))
    ndocs = rnd.randint(20, 60)
    pool = {f: [] for f in FIELDS}
    docs = {}
    lines = []
    for n in range(ndocs):
        src = {}
        for f in FIELDS:
            r = rnd.random()
            if r < 0.15:
                continue                            # missing
            if r < 0.3 and FIELDS[f] != "boolean":
                src[f] = [gen_value(f, pool) for _ in range(rnd.randint(1, 3))]
            else:
                src[f] = gen_value(f, pool)
        doc_id = str(n)
        docs[doc_id] = src
        lines.append(json.dumps({"index": {"_index": INDEX, "_id": doc_id}}))
        lines.append(json.dumps(src))
    data = ("\n".join(lines) + "\n").encode()
    r = urllib.request.Request(URL + "/_bulk?refresh=true", data=data, method="POST",
                               headers={"Content-Type": "application/x-ndjson"})
    with urllib.request.urlopen(r, timeout=60) as resp:
        res = json.loads(resp.read())
    tap(not res["errors"], "bulk of %d documents (seed %d)" % (ndocs, SEED))

    def key_of(doc_id, keys):
        """Per key: (missing?, comparable, reported) for the document."""
        out = []
        for f, order in keys:
            v = docs[doc_id].get(f)
            vals = v if isinstance(v, list) else ([] if v is None else [v])
            if not vals:
                out.append(None)
                continue
            vals = [sort_value(f, x) for x in vals]
            out.append(min(vals) if order == "asc" else max(vals))
        return out

    def cmp_keys(a, b, keys):
        for (f, order), x, y in zip(keys, a, b):
            if x == y:
                continue
            if x is None:
                return 1
            if y is None:
                return -1
            c = (x > y) - (x < y)
            return c if order == "asc" else -c
        return 0

    import functools
    for rno in range(ROUNDS):
        nkeys = rnd.randint(1, 3)
        fields = rnd.sample(sorted(FIELDS), nkeys)
        keys = [(f, rnd.choice(["asc", "desc"])) for f in fields]
        size = rnd.choice([1, 2, 3, 5, 10, ndocs])
        frm = rnd.choice([0, 0, 1, 3])
        expect = sorted(docs, key=functools.cmp_to_key(
            lambda a, b: cmp_keys(key_of(a, keys), key_of(b, keys), keys)))
        expect = expect[frm:frm + size]
        want = [key_of(d, keys) for d in expect]
        spec = [{f: o} for f, o in keys]
        st, body = req("POST", "/%s/_search" % INDEX, {"sort": spec, "size": size, "from": frm})
        desc = "round %d: sort %s from %d size %d" % (rno, json.dumps(spec), frm, size)
        if st != 200:
            tap(False, desc, "HTTP %d %s" % (st, json.dumps(body)))
            continue
        hits = body["hits"]["hits"]
        got = [key_of(h["_id"], keys) for h in hits]
        problems = []
        if got != want:
            problems.append("key order: want %s\n got  %s (ids %s)" % (
                json.dumps(want), json.dumps(got), [h["_id"] for h in hits]))
        for h in hits:
            own = key_of(h["_id"], keys)
            for j, x in enumerate(own):
                if x is None:
                    continue                        # missing: value not asserted
                y = h["sort"][j]
                if y != x or type(y) is bool:
                    problems.append("doc %s key %s: sort value %s, its own value %s" % (
                        h["_id"], keys[j][0], json.dumps(y), json.dumps(x)))
        tap(not problems, desc, "\n".join(problems[:6]))
    print("1..%d" % (n_ok + n_fail))
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
