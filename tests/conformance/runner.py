#!/usr/bin/env python3
"""runner.py URL FILE.yml... -- run Elasticsearch-style REST YAML tests against URL.

The files use the format of Elasticsearch's rest-api-spec/test folders: a
document per section (`setup`, `teardown`, then one per test), each a list of
steps: `do` (an API call by its rest-api-spec name, or `raw` with method/path),
`match`, `length`, `is_true`, `is_false`, `gt`/`gte`/`lt`/`lte`, `close_to`,
`set` (stash a value as $name) and `catch` inside `do`. `skip`/`requires` are
honoured only as "skip this test" when they name a reason. Only the APIs in
API below are known; an unknown one fails the test with its name.

Prints TAP ("ok N - file: test"); exits 1 when a test failed. Between tests
every index is deleted, as Elasticsearch's runner wipes the cluster.
Standard library plus PyYAML only (python3-yaml).
"""
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

import yaml

# API name -> (method, [path templates, most specific first]); a template
# may name its own method ("POST /{index}/_doc").
# A template is used when every {param} it names was given; what is left of
# the arguments (other than body) becomes the query string, as the official
# clients do.
API = {
    "info": ("GET", ["/"]),
    "index": ("PUT", ["/{index}/_doc/{id}", "POST /{index}/_doc"]),
    "create": ("PUT", ["/{index}/_create/{id}"]),
    "get": ("GET", ["/{index}/_doc/{id}"]),
    "exists": ("HEAD", ["/{index}/_doc/{id}"]),
    "get_source": ("GET", ["/{index}/_source/{id}"]),
    "delete": ("DELETE", ["/{index}/_doc/{id}"]),
    "update": ("POST", ["/{index}/_update/{id}"]),
    "bulk": ("POST", ["/{index}/_bulk", "/_bulk"]),
    "mget": ("POST", ["/{index}/_mget", "/_mget"]),
    "search": ("POST", ["/{index}/_search", "/_search"]),
    "count": ("POST", ["/{index}/_count", "/_count"]),
    "scroll": ("POST", ["/_search/scroll"]),
    "clear_scroll": ("DELETE", ["/_search/scroll"]),
    "delete_by_query": ("POST", ["/{index}/_delete_by_query"]),
    "update_by_query": ("POST", ["/{index}/_update_by_query"]),
    "indices.create": ("PUT", ["/{index}"]),
    "indices.delete": ("DELETE", ["/{index}"]),
    "indices.get": ("GET", ["/{index}"]),
    "indices.exists": ("HEAD", ["/{index}"]),
    "indices.refresh": ("POST", ["/{index}/_refresh", "/_refresh"]),
    "indices.put_alias": ("PUT", ["/{index}/_alias/{name}"]),
    "indices.delete_alias": ("DELETE", ["/{index}/_alias/{name}"]),
    "indices.get_alias": ("GET", ["/{index}/_alias/{name}", "/{index}/_alias",
                                  "/_alias/{name}", "/_alias"]),
    "indices.exists_alias": ("HEAD", ["/{index}/_alias/{name}", "/_alias/{name}"]),
    "indices.update_aliases": ("POST", ["/_aliases"]),
    "indices.put_mapping": ("PUT", ["/{index}/_mapping"]),
    "indices.get_mapping": ("GET", ["/{index}/_mapping", "/_mapping"]),
    "indices.get_settings": ("GET", ["/{index}/_settings/{name}", "/{index}/_settings",
                                     "/_settings"]),
    "indices.put_settings": ("PUT", ["/{index}/_settings", "/_settings"]),
    "indices.get_data_stream": ("GET", ["/_data_stream/{name}", "/_data_stream"]),
    "cat.indices": ("GET", ["/_cat/indices/{index}", "/_cat/indices"]),
    "cat.aliases": ("GET", ["/_cat/aliases/{name}", "/_cat/aliases"]),
    "cat.count": ("GET", ["/_cat/count/{index}", "/_cat/count"]),
    "cluster.health": ("GET", ["/_cluster/health/{index}", "/_cluster/health"]),
}

CATCH_STATUS = {"bad_request": 400, "unauthorized": 401, "forbidden": 403,
                "missing": 404, "request_timeout": 408, "conflict": 409,
                "unavailable": 503}


class Fail(Exception):
    pass


class Skip(Exception):
    pass


class Runner:
    def __init__(self, url):
        self.url = url.rstrip("/")
        self.stash = {}
        self.body = None
        self.status = None
        self.headers = {}

    # ---- HTTP -------------------------------------------------------------
    def request(self, method, path, query=None, body=None, headers=None):
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        hdrs = {"Accept": "application/json"}
        if body is not None:
            if isinstance(body, list):      # bulk: one JSON line per item
                data = "".join((json.dumps(x) if not isinstance(x, str) else x) + "\n"
                               for x in body)
                hdrs["Content-Type"] = "application/x-ndjson"
            elif isinstance(body, str):
                data = body
                hdrs["Content-Type"] = "application/json"
            else:
                data = json.dumps(body)
                hdrs["Content-Type"] = "application/json"
            data = data.encode()
        hdrs.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, raw, rh = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, raw, rh = e.code, e.read(), e.headers
        self.status = status
        self.headers = rh
        text = raw.decode("utf-8", "replace")
        if method == "HEAD":
            self.body = status == 200
        elif (rh.get("Content-Type") or "").startswith("text/plain"):
            self.body = text    # _cat text answers, even when they look like JSON ("2\n")
        else:
            try:
                self.body = json.loads(text) if text.strip() else ""
            except ValueError:
                self.body = text
        return status

    # ---- values -----------------------------------------------------------
    def resolve(self, v):
        """Replace $name and ${name} stash references, recursively."""
        if isinstance(v, str):
            if v.startswith("$") and v[1:] in self.stash:
                return self.stash[v[1:]]
            return re.sub(r"\$\{(\w+)\}", lambda m: str(self.stash.get(m.group(1), m.group(0))), v)
        if isinstance(v, list):
            return [self.resolve(x) for x in v]
        if isinstance(v, dict):
            return {self.resolve(k): self.resolve(x) for k, x in v.items()}
        return v

    def lookup(self, path):
        if path == "$body" or path == "":
            return self.body
        cur = self.body
        parts = re.split(r"(?<!\\)\.", path)
        for p in parts:
            p = p.replace("\\.", ".")
            p = self.resolve(p)
            if isinstance(cur, list):
                try:
                    cur = cur[int(p)]
                except (ValueError, IndexError):
                    raise Fail("path %s: no element %s" % (path, p))
            elif isinstance(cur, dict):
                if p not in cur:
                    return None
                cur = cur[p]
            else:
                return None
        return cur

    # ---- steps ------------------------------------------------------------
    def do(self, spec):
        spec = dict(spec)
        catch = spec.pop("catch", None)
        headers = spec.pop("headers", None)
        warnings = spec.pop("warnings", None)
        spec.pop("allowed_warnings", None)
        spec.pop("node_selector", None)
        if len(spec) != 1:
            raise Fail("do: one API per step, got %s" % list(spec))
        (api, args), = spec.items()
        args = dict(self.resolve(args or {}))
        body = args.pop("body", None)
        if api == "raw":
            method = args.pop("method")
            path = args.pop("path")
            query = {k: self.qval(v) for k, v in args.items()}
        else:
            if api not in API:
                raise Fail("unknown API %s (add it to runner.py API)" % api)
            method, templates = API[api]
            path = None
            for t in templates:
                m = method
                if " " in t:
                    m, t = t.split(" ", 1)
                names = re.findall(r"\{(\w+)\}", t)
                if all(n in args for n in names):
                    path = t
                    for n in names:
                        val = args.pop(n)
                        if isinstance(val, list):
                            val = ",".join(str(x) for x in val)
                        path = path.replace("{%s}" % n, urllib.parse.quote(str(val), safe=",*"))
                    method = m
                    break
            if path is None:
                raise Fail("%s: missing a path parameter for %s" % (api, templates))
            query = {k: self.qval(v) for k, v in args.items()}
        status = self.request(method, path, query, body, headers)
        if warnings:
            got = " ".join(self.headers.get_all("Warning") or [])
            for w in warnings:
                if w not in got:
                    raise Fail("%s %s: expected warning %r, got %r" % (method, path, w, got))
        if catch is None:
            if status >= 400 and not (method == "HEAD" and status == 404):
                raise Fail("%s %s: HTTP %d %s" % (method, path, status, json.dumps(self.body)[:400]))
            return
        want = CATCH_STATUS.get(catch)
        if want is not None:
            if status != want:
                raise Fail("%s %s: catch %s wants %d, got %d %s" % (
                    method, path, catch, want, status, json.dumps(self.body)[:300]))
        elif catch == "request":
            if status < 400 or status in (400, 401, 403, 404, 408, 409):
                raise Fail("%s %s: catch request, got %d" % (method, path, status))
        elif catch.startswith("/"):
            if status < 400:
                raise Fail("%s %s: catch %s, got %d" % (method, path, catch, status))
            text = json.dumps(self.body)
            if not re.search(catch.strip("/"), text):
                raise Fail("%s %s: error %s does not match %s" % (method, path, text[:300], catch))
        else:
            raise Fail("unknown catch %s" % catch)

    @staticmethod
    def qval(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return ",".join(str(x) for x in v)
        return str(v)

    def expect(self, kind, arg):
        if kind == "set":
            for path, name in arg.items():
                self.stash[name] = self.lookup(path)
            return
        if kind in ("is_true", "is_false"):
            v = self.lookup(arg)
            # as Elasticsearch's IsTrueAssertion: not null, "", "false" (any case) or "0"
            truthy = not (v is None or v is False or (not isinstance(v, bool) and v == 0) or
                          (isinstance(v, str) and (v in ("", "0") or v.lower() == "false")))
            if kind == "is_true" and not truthy:
                raise Fail("is_true %s: got %s" % (arg, json.dumps(v)))
            if kind == "is_false" and truthy:
                raise Fail("is_false %s: got %s" % (arg, json.dumps(v)))
            return
        for path, want in arg.items():
            got = self.lookup(path)
            want = self.resolve(want)
            if kind == "match":
                if not self.matches(got, want):
                    raise Fail("match %s: expected %s, got %s" % (
                        path, json.dumps(want), json.dumps(got)[:600]))
            elif kind == "length":
                n = len(got) if isinstance(got, (list, dict, str)) else None
                if n != want:
                    raise Fail("length %s: expected %s, got %s (%s)" % (
                        path, want, n, json.dumps(got)[:300]))
            elif kind in ("gt", "gte", "lt", "lte"):
                ok = isinstance(got, (int, float)) and not isinstance(got, bool) and {
                    "gt": got > want if isinstance(got, (int, float)) else False,
                    "gte": got >= want if isinstance(got, (int, float)) else False,
                    "lt": got < want if isinstance(got, (int, float)) else False,
                    "lte": got <= want if isinstance(got, (int, float)) else False}[kind]
                if not ok:
                    raise Fail("%s %s: %s vs %s" % (kind, path, json.dumps(got), want))
            elif kind == "close_to":
                if not isinstance(got, (int, float)) or abs(got - want["value"]) > want.get("error", 1e-6):
                    raise Fail("close_to %s: expected %s±%s, got %s" % (
                        path, want["value"], want.get("error", 1e-6), got))
            else:
                raise Fail("unknown assertion %s" % kind)

    def matches(self, got, want):
        if isinstance(want, str) and len(want) > 2 and want.startswith("/") and want.rstrip().endswith("/"):
            return got is not None and re.search(want.strip().strip("/"), str(got), re.X) is not None
        if isinstance(want, float) or isinstance(got, float):
            return isinstance(got, (int, float)) and not isinstance(got, bool) and \
                isinstance(want, (int, float)) and abs(got - want) <= 1e-9 * max(1, abs(want))
        if isinstance(want, dict) and isinstance(got, dict):
            return want.keys() == got.keys() and all(self.matches(got[k], want[k]) for k in want)
        if isinstance(want, list) and isinstance(got, list):
            return len(want) == len(got) and all(self.matches(g, w) for g, w in zip(got, want))
        return got == want and type(got) is type(want) or (
            isinstance(got, (int, float)) and isinstance(want, (int, float))
            and not isinstance(got, bool) and not isinstance(want, bool) and got == want)

    def run_steps(self, steps):
        for step in steps or []:
            if not isinstance(step, dict) or len(step) != 1:
                raise Fail("a step is a one-key map, got %r" % (step,))
            (kind, arg), = step.items()
            if kind in ("skip", "requires"):
                if isinstance(arg, dict) and arg.get("reason") and arg.get("verstore", True) is not True:
                    raise Skip(arg["reason"])
                continue
            if kind == "do":
                self.do(arg)
            else:
                self.expect(kind, arg)

    def wipe(self):
        self.request("GET", "/_cat/indices", {"format": "json", "h": "index", "expand_wildcards": "all"})
        if self.status == 200 and isinstance(self.body, list):
            for row in self.body:
                self.request("DELETE", "/" + urllib.parse.quote(row["index"]))


def main():
    if len(sys.argv) < 3:
        print("usage: runner.py URL FILE.yml...", file=sys.stderr)
        return 2
    r = Runner(sys.argv[1])
    n = failed = 0
    only = None
    for f in sys.argv[2:]:
        if "::" in f:
            f, only = f.split("::", 1)
        with open(f) as fh:
            try:
                docs = [d for d in yaml.safe_load_all(fh) if d]
            except yaml.YAMLError as e:
                n += 1
                failed += 1
                print("not ok %d - %s: YAML error: %s" % (n, f, str(e).replace("\n", " ")))
                continue
        setup = teardown = None
        tests = []
        for d in docs:
            for name, steps in d.items():
                if name == "setup":
                    setup = steps
                elif name == "teardown":
                    teardown = steps
                else:
                    tests.append((name, steps))
        short = f.rsplit("/", 1)[-1]
        for name, steps in tests:
            if only and only not in name:
                continue
            n += 1
            r.stash = {}
            r.wipe()
            try:
                r.run_steps(setup)
                r.run_steps(steps)
                r.run_steps(teardown)
                print("ok %d - %s: %s" % (n, short, name))
            except Skip as e:
                print("ok %d - %s: %s # SKIP %s" % (n, short, name, e))
            except (Fail, KeyError, TypeError, ValueError) as e:
                failed += 1
                print("not ok %d - %s: %s" % (n, short, name))
                print("#   %s" % str(e).replace("\n", "\n#   "))
            sys.stdout.flush()
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
