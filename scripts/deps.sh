#!/usr/bin/env bash
# deps.sh install|ensure — install the Debian packages versync needs.
#   install: install whatever is missing (says so when nothing is), including
#            what `make test`'s extended mode (CI=true or EXTENDED=1) needs.
#   ensure:  the same, but silent when nothing is missing (used by make test/demo);
#            the extended mode's tools only when EXTENDED=1.
# As root it runs apt-get; otherwise it prints the exact sudo line and fails.
set -euo pipefail
mode=${1:-install}

# Build libraries and pkg-config, plus the command-line tools the tests drive
# (curl, jq; python3-yaml for the REST YAML conformance runner; systemd for
# `systemd-analyze verify` of the shipped units) and the PostgreSQL server the
# integration tests start.
PKGS=(libpq-dev libcurl4-openssl-dev libcjson-dev libcmocka-dev libmicrohttpd-dev
      liblmdb-dev libcrypt-dev libicu-dev libstemmer-dev unicode-data pkg-config curl jq python3-yaml procps systemd)
# The extended mode: clang and its libFuzzer runtime for `make fuzz-smoke`,
# valgrind for the unit tests.
if [ "$mode" = install ] || [ "${EXTENDED:-0}" = 1 ]; then
  PKGS+=(clang libclang-rt-14-dev valgrind)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

have_initdb() {
  command -v initdb >/dev/null 2>&1 && return 0
  local bindir
  bindir=$(pg_config --bindir 2>/dev/null || true)
  [ -n "$bindir" ] && [ -x "$bindir/initdb" ] && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
have_initdb || missing+=(postgresql)

if [ ${#missing[@]} -eq 0 ]; then
  [ "$mode" = ensure ] || echo "deps: everything is installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
