#!/usr/bin/env bash
# Each program links only what it uses: verstore never libpq or libcurl,
# versync never LMDB, ICU or Snowball (it does use libmicrohttpd, for its
# --metrics endpoint). Checked twice: in the built binaries' NEEDED entries
# (readelf -d), and in the link commands the Makefile would run, since the
# linker's --as-needed (gcc's default on Debian, but not under -fsanitize)
# can hide an over-broad list in a plain build.
. "$(dirname "$0")/lib.sh"

# needed FILE — the sonames FILE depends on, one line each.
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

# refuse DESC FILE REGEX — FILE has no NEEDED entry matching REGEX.
refuse() {
  local bad
  bad=$(needed "$2" | grep -E "$3" | tr '\n' ' ')
  assert_eq "$1" "" "$bad"
}

STORE_BAD='^lib(pq|curl)\.'
BRIDGE_BAD='^lib(lmdb|icu[a-z0-9]*|stemmer|crypt)\.'

check "verstore is built" test -x "$VERSTORE"
check "versync is built" test -x "$VERSYNC"
check "readelf lists verstore's libraries" bash -c "readelf -d '$VERSTORE' | grep -q NEEDED"
refuse "verstore needs neither libpq nor libcurl" "$VERSTORE" "$STORE_BAD"
refuse "versync needs neither LMDB, ICU, libstemmer nor libcrypt" "$VERSYNC" "$BRIDGE_BAD"
assert_match "verstore does need LMDB" 'liblmdb' "$(needed "$VERSTORE" | tr '\n' ' ')"
assert_match "versync does need libpq" 'libpq' "$(needed "$VERSYNC" | tr '\n' ' ')"

# Unit tests link their module's side only.
for t in test_store_engine test_store_api; do
  [ -x "$VS_BUILD/tests/$t" ] && refuse "unit $t needs neither libpq nor libcurl" "$VS_BUILD/tests/$t" "$STORE_BAD"
done
for t in test_cfg test_bulk test_render; do
  [ -x "$VS_BUILD/tests/$t" ] && refuse "unit $t needs no store library" "$VS_BUILD/tests/$t" "$BRIDGE_BAD"
done
for t in test_buf test_grow; do
  [ -x "$VS_BUILD/tests/$t" ] && refuse "unit $t (common) needs no side's library" "$VS_BUILD/tests/$t" \
    '^lib(pq|curl|lmdb|icu[a-z0-9]*|stemmer|crypt|microhttpd)\.'
done

# The link lines themselves (make -n into a scratch BUILD: nothing is built).
B=$T_DIR/b
lines=$(make -C "$VS_ROOT" -n -B --no-print-directory BUILD="$B" "$B/verstore" "$B/versync" 2>&1)
store_line=$(printf '%s\n' "$lines" | grep -- "-o $B/verstore ")
bridge_line=$(printf '%s\n' "$lines" | grep -- "-o $B/versync ")
check "make would link verstore" test -n "$store_line"
check "make would link versync" test -n "$bridge_line"
if [[ " $store_line " =~ \ -l(pq|curl)\  ]]; then
  not_ok "verstore's link line names -lpq or -lcurl: $(grep -oE -- ' -l[^ ]+' <<<"$store_line" | tr -d '\n')"
else ok "verstore's link line names neither -lpq nor -lcurl"; fi
if [[ " $bridge_line " =~ \ -l(lmdb|icu[a-z0-9]*|stemmer|crypt)\  ]]; then
  not_ok "versync's link line names a store library: $(grep -oE -- ' -l[^ ]+' <<<"$bridge_line" | tr -d '\n')"
else ok "versync's link line names no store library"; fi

done_testing
