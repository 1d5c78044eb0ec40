#!/usr/bin/env bash
# Docker files without a Docker engine: the compose file's structure (every
# service has an image or a build, every build context, Dockerfile and
# mounted file exists, every dependency is a service enabled in the same
# profile, the verstore/opensearch/elasticsearch profiles exist), the
# Dockerfile's build stage is exactly `make deps && make`, its runtime stage
# installs the packages that provide every library the binaries load, and the
# versync config it mounts is accepted by the real config loader.
. "$(dirname "$0")/lib.sh"
cd "$VS_ROOT" || exit 1

# skip DESC WHY — a TAP case that could not run here, counted as passing.
skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }

COMPOSE=docker/docker-compose.yml
DOCKERFILE=docker/Dockerfile

# ---- the compose file, read by indentation ----------------------------------------
#
# The file keeps to block style with two-space indents (flow style only for
# short lists such as profiles), which this reader relies on and checks.
# It prints one fact per line:
#   service NAME | has NAME build|image | merge NAME ANCHOR | profile NAME P
#   dep NAME TARGET | anchor ANCHOR | mount PATH | context DIR | dockerfile DIR FILE
#   envfile PATH | bad LINE-NUMBER TEXT
# where NAME is a service or an x- block's anchor (prefixed with &).
compose_facts() {
  awk '
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    function unquote(s) { s = trim(s); if (s ~ /^".*"$/ || s ~ /^\047.*\047$/) s = substr(s, 2, length(s) - 2); return s }
    function flush_build() {
      if (ctx != "") { print "context " ctx; if (df != "") print "dockerfile " ctx " " df }
      ctx = ""; df = ""
    }
    /^[ \t]*(#|$)/ { next }
    /\t/ { print "bad " NR " tab character" }
    {
      match($0, /^ */); ind = RLENGTH; line = substr($0, ind + 1)
      if (ind % 2) print "bad " NR " odd indentation"
    }
    ind == 0 {
      flush_build()
      top = line; sub(/:.*/, "", top); owner = ""; section = ""
      if (top ~ /^x-/ && match(line, /&[A-Za-z0-9_-]+/)) owner = substr(line, RSTART, RLENGTH)
      if (owner != "") print "anchor " owner
      next
    }
    # a service (or, in an x- block, the anchor) owns what follows
    top == "services" && ind == 2 { flush_build(); owner = line; sub(/:.*/, "", owner); print "service " owner; section = ""; next }
    owner == "" { next }
    {
      base = (top == "services") ? 4 : 2   # indentation of a service key
      if (ind < base) next
      if (ind == base) {
        flush_build()
        key = line; sub(/:.*/, "", key); val = line; sub(/^[^:]*:[ ]*/, "", val)
        section = key
        if (key == "build" || key == "image") print "has " owner " " key
        if (key == "build" && val != "") { ctx = unquote(val); flush_build() }
        if (key == "<<") { sub(/^\*/, "", val); print "merge " owner " &" trim(val) }
        if (key == "profiles") {
          if (val !~ /^\[.*\]$/) print "bad " NR " profiles must be a [flow, list]"
          gsub(/[\[\] ]/, "", val); n = split(val, ps, ",")
          for (i = 1; i <= n; i++) print "profile " owner " " ps[i]
        }
        if (key == "env_file" && val != "") print "envfile " unquote(val)
        next
      }
      if (section == "build" && ind == base + 2) {
        key = line; sub(/:.*/, "", key); val = line; sub(/^[^:]*:[ ]*/, "", val)
        if (key == "context") ctx = unquote(val)
        if (key == "dockerfile") df = unquote(val)
      }
      if (section == "depends_on" && ind == base + 2) {
        dep = line; sub(/^- /, "", dep); sub(/:.*/, "", dep); print "dep " owner " " trim(dep)
      }
      if (section == "volumes" && ind == base + 2 && line ~ /^- /) {
        src = unquote(substr(line, 3)); sub(/:.*/, "", src)
        if (src ~ /^\.\.?\//) print "mount " src
      }
      if (section == "env_file" && ind == base + 2 && line ~ /^- /) print "envfile " unquote(substr(line, 3))
    }
    END { flush_build() }
  ' "$COMPOSE"
}

check "docker/docker-compose.yml exists" test -f "$COMPOSE"
facts=$(compose_facts)
printf '%s\n' "$facts" >"$T_DIR/facts"
T_LOGS+=("$T_DIR/facts")

assert_eq "compose file keeps to two-space block style (no tabs, even indents)" "" \
  "$(grep '^bad ' "$T_DIR/facts")"

services=$(awk '$1 == "service" {print $2}' "$T_DIR/facts" | sort)
check "compose file defines services" test -n "$services"

# has_key OWNER KEY — OWNER has KEY itself or through a chain of merge keys.
has_key() {
  local owner=$1 key=$2 depth=0
  while [ -n "$owner" ] && [ "$depth" -lt 10 ]; do
    grep -qx "has $owner $key" "$T_DIR/facts" && return 0
    owner=$(awk -v o="$owner" '$1 == "merge" && $2 == o {print $3; exit}' "$T_DIR/facts")
    depth=$((depth + 1))
  done
  return 1
}
# profiles_of SERVICE — its profiles, space-separated ("" = always enabled).
profiles_of() { awk -v s="$1" '$1 == "profile" && $2 == s {printf "%s ", $3}' "$T_DIR/facts"; }

no_source=""
for s in $services; do
  has_key "$s" image || has_key "$s" build || no_source="$no_source $s"
done
assert_eq "every service has an image or a build" "" "$no_source"

unknown_anchor=""
for a in $(awk '$1 == "merge" {print $3}' "$T_DIR/facts"); do
  grep -qx "anchor $a" "$T_DIR/facts" || unknown_anchor="$unknown_anchor $a"
done
assert_eq "every merge key names an x- block's anchor" "" "$unknown_anchor"

missing=""
while read -r kind a b; do
  case "$kind" in
    mount | envfile) [ -e "docker/$a" ] || missing="$missing $kind:$a" ;;
    context) [ -d "docker/$a" ] || missing="$missing context:$a" ;;
    dockerfile) [ -f "docker/$a/$b" ] || missing="$missing dockerfile:$a/$b" ;;
  esac
done <"$T_DIR/facts"
assert_eq "every build context, Dockerfile, mounted and env file exists" "" "$missing"
check "the compose file mounts something (the reader sees the volumes)" grep -q '^mount ' "$T_DIR/facts"
check "the compose file builds something (the reader sees build contexts)" grep -q '^dockerfile ' "$T_DIR/facts"

# A dependency must exist and be enabled whenever its dependant is: it has no
# profile, or it shares one with the dependant.
bad_dep=""
while read -r _ s d; do
  if ! printf '%s\n' "$services" | grep -qx "$d"; then bad_dep="$bad_dep $s->$d(no such service)"; continue; fi
  dp=$(profiles_of "$d")
  [ -z "$dp" ] && continue
  shared=""
  for p in $dp; do [[ " $(profiles_of "$s") " == *" $p "* ]] && shared=yes; done
  [ -n "$shared" ] || bad_dep="$bad_dep $s->$d(profile)"
done < <(grep '^dep ' "$T_DIR/facts")
assert_eq "every depends_on names a service enabled in the same profile" "" "$bad_dep"

all_profiles=$(awk '$1 == "profile" {print $3}' "$T_DIR/facts" | sort -u | paste -sd' ')
assert_eq "profiles: elasticsearch, opensearch and the default verstore" "elasticsearch opensearch verstore" "$all_profiles"
check "docker/.env makes verstore the default profile" grep -qx 'COMPOSE_PROFILES=verstore' docker/.env
# Exactly one store, and a versync that uses it, per profile.
for p in verstore opensearch elasticsearch; do
  store=$(awk -v p="$p" '$1 == "profile" && $3 == p {print $2}' "$T_DIR/facts" | grep -Ex 'verstore|opensearch|elasticsearch' | paste -sd' ')
  assert_eq "profile $p runs one store: $p" "$p" "$store"
  url=$(awk -v p="$p" '
    /^  [a-z0-9-]+:$/ {svc = $1; sub(/:$/, "", svc)}
    /profiles: \[/ {prof[svc] = $0}
    /VERSYNC_STORE_URL:/ {url[svc] = $2}
    END {for (s in url) if (prof[s] ~ "\\[" p "\\]" && s !~ /init/) print url[s]}' "$COMPOSE")
  assert_eq "profile $p: versync writes to http://$p:9200" "http://$p:9200" "$url"
done

# ---- a real YAML parser, where one is installed, must see the same file ---------------
# (help read whole first: grep -q closing the pipe early would fail it under pipefail)
yq_help=$(command -v yq >/dev/null 2>&1 && yq --help 2>&1)
if [[ "$yq_help" == *jq* ]]; then
  # python-yq: YAML in, jq filter out; merge keys resolved by the parser.
  json=$(yq . "$COMPOSE" 2>"$T_DIR/yq.err"); rc=$?
  assert_eq "compose file parses as YAML (yq)" "0" "$rc"
  parsed=$(printf '%s' "$json" | jq -r '.services | to_entries[] |
      "\(.key) \(if .value.image then "image" else "" end) \(if .value.build then "build" else "" end) " +
      "\((.value.profiles // []) | join(",")) \((.value.depends_on // {}) | keys | join(","))"' | sort)
  ours=$(for s in $services; do
      printf '%s %s %s %s %s\n' "$s" "$(has_key "$s" image && echo image)" "$(has_key "$s" build && echo build)" \
        "$(profiles_of "$s" | sed 's/ $//; s/ /,/g')" \
        "$(awk -v s="$s" '$1 == "dep" && $2 == s {print $3}' "$T_DIR/facts" | sort | paste -sd,)"
    done | sort)
  assert_eq "the reader above agrees with the YAML parser (services, image/build, profiles, deps)" "$parsed" "$ours"
  ctx_parsed=$(printf '%s' "$json" | jq -r '.services[] | select(.build) | "\(.build.context) \(.build.dockerfile)"' | sort -u)
  assert_eq "... and on build contexts and Dockerfiles" "$ctx_parsed" \
    "$(grep '^dockerfile ' "$T_DIR/facts" | cut -d' ' -f2- | sort -u)"
else
  skip "compose file parses as YAML and agrees with the reader" "no yq (python-yq) installed"
fi

# ---- the Dockerfile ----------------------------------------------------------------

check "docker/Dockerfile exists" test -f "$DOCKERFILE"
build_runs=$(awk '/^FROM / {stage = $NF} stage == "build" && /^RUN / {print}' "$DOCKERFILE" | tail -1)
assert_eq "build stage compiles exactly as developers do" "RUN make deps && make" "$build_runs"
check "build stage copies the whole repository in" grep -qx 'COPY \. \.' "$DOCKERFILE"
stages=$(awk '/^FROM / {print $NF}' "$DOCKERFILE" | paste -sd' ')
assert_eq "stages: build, runtime, verstore, versync" "build runtime verstore versync" "$stages"
for t in verstore versync; do
  user=$(awk -v t="$t" '/^FROM / {stage = $NF} stage == t && /^USER / {print $2}' "$DOCKERFILE")
  assert_eq "the $t image runs as the unprivileged user" "versync" "$user"
  check "the $t image copies build/$t from the build stage" grep -q "^COPY --from=build /src/build/$t " "$DOCKERFILE"
done
runtime_pkgs=$(awk '/^FROM / {stage = $NF} stage == "runtime"' "$DOCKERFILE" |
  sed -n 's/.*apt-get install -y --no-install-recommends \([^\\&]*\).*/\1/p' | tr ' ' '\n' | grep -v '^$' | sort)
check "runtime stage installs packages" test -n "$runtime_pkgs"

# Every library the built binaries load comes from a package the runtime
# stage installs (or from libc6, which the base image has).
need_missing=""
for b in versync verstore; do
  for so in $(readelf -d "$VS_BUILD/$b" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64|64bit/ {print $NF; exit}')
    # usrmerge: dpkg knows a file by the path its package ships, /lib or /usr/lib
    pkg=$({ dpkg -S "$path" || dpkg -S "$(readlink -f "$path")"; } 2>/dev/null | head -1 | cut -d: -f1)
    # libc6 is in the base image; sanitizer runtimes exist only in make asan builds
    [[ "$pkg" == libc6 || "$pkg" =~ ^lib(a|ub|t|l)san[0-9]*$ ]] && continue
    printf '%s\n' "$runtime_pkgs" | grep -qx "$pkg" || need_missing="$need_missing $b:$so(${pkg:-unknown})"
  done
done
assert_eq "runtime stage provides every library versync and verstore load" "" "$need_missing"
check "Dockerfile's ignore file keeps host builds out of the context" grep -qx 'build-\*' docker/Dockerfile.dockerignore

# ---- the files compose mounts ---------------------------------------------------------

CFG_CHECK=$VS_BUILD/itest/cfg_check
if [ -x "$CFG_CHECK" ]; then
  out=$(env VERSYNC_POSTGRES="host=postgres dbname=demo" VERSYNC_STORE_URL=http://verstore:9200 \
      VERSYNC_STORE_USERNAME= VERSYNC_STORE_PASSWORD= "$CFG_CHECK" docker/versync.json 2>&1)
  assert_eq "docker/versync.json is accepted by versync's config loader" "ok: 1 tables, 2 workers" "$out"
  # every ${VAR} the config uses is set for each versync service
  vars=$(grep -o '\${[A-Z_]*}' docker/versync.json | tr -d '${}' | sort -u)
  unset_vars=""
  for v in $vars; do
    grep -q "^ *$v:" "$COMPOSE" || unset_vars="$unset_vars $v"
  done
  assert_eq "compose sets every variable docker/versync.json names" "" "$unset_vars"
else
  not_ok "cfg_check helper built (make BUILD=$BUILD unit-bins)"
fi

# The seed runs on the postgres image's first start: prove it on a real server.
pg_start
check "docker/seed.sql runs on an empty database" psql -XAtq -v ON_ERROR_STOP=1 -f docker/seed.sql
assert_eq "the demo table is seeded" "1000" "$(sql 'select count(*) from public.products')"

done_testing
