#!/usr/bin/env bash
# Idempotent setup for the real-component test harness. Everything lands in
# ~/.cache/edot-ta/ (EDOT_TA_CACHE), keyed by version and build recipe; a second run installs
# nothing and builds nothing. Nothing fetched here is committed.
#
#   bin/kube-apiserver, bin/kubectl   v1.37.2, built from the k8s.io/kubernetes module
#                                     (test/harness/build/kube: go.mod pins the staging modules)
#   bin/etcd                          v3.6.16, from go.etcd.io/etcd/server/v3 (build/etcd)
#   bin/otelcol                       the collector with the contrib prometheus receiver and the
#                                     file exporter, all modules at v0.165.x (build/collector)
#   bin/prometheus-sd                 Prometheus's kubernetes_sd (the receiver's Prometheus module)
#                                     printing target groups as JSON: the kubernetes_sd oracle
#   bin/kube-apiserver-1.20           the oldest server we test (no native sidecars: the
#                                     postStart path), built from Debian bookworm's `kubernetes`
#                                     source package with Debian's Go 1.19
#   prometheus (Debian 2.42)          the relabel oracle
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE_DIR="${EDOT_TA_CACHE:-$HOME/.cache/edot-ta}"
BIN_DIR="$CACHE_DIR/bin"
mkdir -p "$BIN_DIR"

KUBE_VERSION="v1.37.2"       # keep in step with build/kube/go.mod
ETCD_VERSION="v3.6.16"       # build/etcd/go.mod
OTELCOL_VERSION="v0.165.1"   # build/collector/go.mod (contrib; core v0.165.0 / v1.71.0)
LEGACY_K8S_VERSION="1.20.5+really1.20.2"   # bookworm's kubernetes source package
LEGACY_RECIPE=1              # bump when the legacy build steps below change
GO="${EDOT_TA_GO:-/usr/local/go/bin/go}"
command -v "$GO" >/dev/null 2>&1 || GO="go"

log() { printf '[edot-ta setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# A build key: the version plus a hash of the build module, so editing go.mod rebuilds.
module_key() { find "$HERE/build/$1" -maxdepth 1 -type f \( -name go.mod -o -name '*.go' \) | sort | xargs cat | sha256sum | cut -c1-10; }
KUBE_KEY="$KUBE_VERSION-$(module_key kube)"
ETCD_KEY="$ETCD_VERSION-$(module_key etcd)"
OTELCOL_KEY="$OTELCOL_VERSION-$(module_key collector)"
# Where earlier versions of this script cached it too: a machine that has it skips the build.
LEGACY_BIN="$CACHE_DIR/kube-apiserver-${LEGACY_K8S_VERSION}-r${LEGACY_RECIPE}"

# --- Debian packages
need_pkgs=()
command -v prometheus >/dev/null 2>&1 || need_pkgs+=(prometheus)
if [ ! -x "$LEGACY_BIN" ]; then
  [ -x /usr/lib/go-1.19/bin/go ] || need_pkgs+=(golang-1.19-go)
  command -v rsync >/dev/null 2>&1 || need_pkgs+=(rsync)
  command -v dpkg-source >/dev/null 2>&1 || need_pkgs+=(dpkg-dev)
  [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || need_pkgs+=(golang-github-modern-go-reflect2-dev)
fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # prometheus' postinst tries to start a service; without systemd that is harmless.
  $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# Debian's prometheus package may have started a daemon on :9090 (sysvinit); we start our own.
if pgrep -x prometheus >/dev/null 2>&1 && [ -f /etc/init.d/prometheus ]; then
  $SUDO /etc/init.d/prometheus stop >/dev/null 2>&1 || true
fi

# Runs a long command in the background, printing progress every 30 s; its output goes to $2.
run_with_progress() {
  local what="$1" logfile="$2"; shift 2
  log "$what"
  "$@" >"$logfile" 2>&1 &
  local pid=$! start; start=$(date +%s)
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null || break
    log "  still working ($(( $(date +%s) - start )) s): $(tail -n1 "$logfile" | cut -c1-100)"
  done
  if ! wait "$pid"; then
    tail -n 40 "$logfile" >&2
    echo "$what failed; full log: $logfile" >&2
    return 1
  fi
  log "  done in $(( $(date +%s) - start )) s"
}

# --- Go builds from the module proxy (go.sum in build/*/ pins every module)
go_build() { # module-dir out-dir ldflags packages...
  local dir="$1" out="$2" ldflags="$3"; shift 3
  (cd "$HERE/build/$dir" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
    "$GO" build -v -trimpath -ldflags "-s -w $ldflags" -o "$out/" "$@")
}
link() { ln -sfn "$1" "$BIN_DIR/$2"; }

if [ ! -x "$BIN_DIR/kube-apiserver-$KUBE_KEY" ] || [ ! -x "$BIN_DIR/kubectl-$KUBE_KEY" ]; then
  tmp="$(mktemp -d "$CACHE_DIR/kube.XXXX")"
  minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  v="k8s.io/component-base/version"
  ld="-X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  run_with_progress "building kube-apiserver and kubectl $KUBE_VERSION from the k8s.io/kubernetes module (about 12 min cold on 2 cores)" \
    "$CACHE_DIR/build-kube.log" go_build kube "$tmp" "$ld" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  mv "$tmp/kube-apiserver" "$BIN_DIR/kube-apiserver-$KUBE_KEY"
  mv "$tmp/kubectl" "$BIN_DIR/kubectl-$KUBE_KEY"
  rmdir "$tmp"
fi
link "kube-apiserver-$KUBE_KEY" kube-apiserver
link "kubectl-$KUBE_KEY" kubectl
log "kube-apiserver and kubectl $KUBE_VERSION: $BIN_DIR"

if [ ! -x "$BIN_DIR/etcd-$ETCD_KEY" ]; then
  tmp="$(mktemp -d "$CACHE_DIR/etcd.XXXX")"
  run_with_progress "building etcd $ETCD_VERSION from go.etcd.io/etcd/server/v3 (about 2 min cold)" \
    "$CACHE_DIR/build-etcd.log" go_build etcd "$tmp" "" go.etcd.io/etcd/server/v3
  mv "$tmp/v3" "$BIN_DIR/etcd-$ETCD_KEY" 2>/dev/null || mv "$tmp/server" "$BIN_DIR/etcd-$ETCD_KEY"
  rm -rf "$tmp"
fi
link "etcd-$ETCD_KEY" etcd
log "etcd $ETCD_VERSION: $BIN_DIR/etcd"

if [ ! -x "$BIN_DIR/otelcol-$OTELCOL_KEY" ]; then
  tmp="$(mktemp -d "$CACHE_DIR/otelcol.XXXX")"
  run_with_progress "building the collector (prometheus receiver + file exporter $OTELCOL_VERSION; about 6 min cold)" \
    "$CACHE_DIR/build-otelcol.log" go_build collector "$tmp" "" .
  mv "$tmp/collector" "$BIN_DIR/otelcol-$OTELCOL_KEY"
  rm -rf "$tmp"
fi
link "otelcol-$OTELCOL_KEY" otelcol
log "collector $OTELCOL_VERSION: $BIN_DIR/otelcol"

# Prometheus's own kubernetes_sd (the Prometheus module of the collector's receiver) as the
# kubernetes_sd oracle: build/collector/sd-dump, from the same module and module cache.
SDDUMP_KEY="$OTELCOL_VERSION-$(cat "$HERE/build/collector/go.mod" "$HERE/build/collector/sd-dump/main.go" | sha256sum | cut -c1-10)"
if [ ! -x "$BIN_DIR/prometheus-sd-$SDDUMP_KEY" ]; then
  tmp="$(mktemp -d "$CACHE_DIR/sd-dump.XXXX")"
  run_with_progress "building sd-dump (Prometheus kubernetes_sd; under a minute once the collector is built)" \
    "$CACHE_DIR/build-sd-dump.log" go_build collector "$tmp" "" ./sd-dump
  mv "$tmp/sd-dump" "$BIN_DIR/prometheus-sd-$SDDUMP_KEY"
  rm -rf "$tmp"
fi
link "prometheus-sd-$SDDUMP_KEY" prometheus-sd
log "prometheus-sd (kubernetes_sd oracle): $BIN_DIR/prometheus-sd"

# --- the legacy server: Debian's 1.20 source package, built with Debian's Go 1.19
if [ ! -x "$LEGACY_BIN" ]; then
  SRC_DIR="$CACHE_DIR/src"
  mkdir -p "$SRC_DIR/lists/partial"
  # Never touch the machine's own apt lists: a private source list for deb-src.
  mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  if [ -z "$mirror" ]; then
    mirror="$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  fi
  [ -n "$mirror" ] || { echo "cannot find the Debian mirror URI in the apt sources" >&2; exit 1; }
  echo "deb-src $mirror bookworm main" > "$SRC_DIR/src.list"
  APT_OPTS=(-o "Dir::Etc::SourceList=$SRC_DIR/src.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$SRC_DIR/lists")
  orig="$(ls "$SRC_DIR"/kubernetes_*.orig.tar.* 2>/dev/null | head -n1 || true)"
  if [ -z "$orig" ]; then
    log "downloading the kubernetes 1.20 source package (~34 MB)"
    $SUDO apt-get "${APT_OPTS[@]}" update -qq
    (cd "$SRC_DIR" && $SUDO apt-get "${APT_OPTS[@]}" source --download-only kubernetes -qq)
    orig="$(ls "$SRC_DIR"/kubernetes_*.orig.tar.* | head -n1)"
  fi
  case "$(basename "$orig")" in
    "kubernetes_${LEGACY_K8S_VERSION}.orig.tar."*) ;;
    *) echo "unexpected kubernetes source version: $(basename "$orig") (want ${LEGACY_K8S_VERSION})" >&2; exit 1 ;;
  esac
  GOPATH_DIR="$CACHE_DIR/gopath"
  TREE="$GOPATH_DIR/src/k8s.io/kubernetes"
  rm -rf "$GOPATH_DIR"
  mkdir -p "$TREE"
  log "unpacking $(basename "$orig")"
  tar -xf "$orig" -C "$TREE" --strip-components=1
  # The vendored reflect2 v1.0.1 crashes under Go >= 1.18; use Debian's 1.0.2.
  R2="$TREE/vendor/github.com/modern-go/reflect2"
  rm -f "$R2"/*.go "$R2"/*.s
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go "$R2"/
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$R2"/ 2>/dev/null || true
  rm -f "$R2"/*_test.go
  # GOPATH mode and this tree want Debian's Go 1.19, not the machine's newer `go`.
  legacy_make() {
    cd "$TREE" && env HOME="$CACHE_DIR" GOPATH="$GOPATH_DIR" GO111MODULE=off GOFLAGS="" GOTOOLCHAIN=local \
      GOCACHE="$CACHE_DIR/gocache-legacy" PATH="/usr/lib/go-1.19/bin:$PATH" make WHAT=cmd/kube-apiserver
  }
  run_with_progress "building kube-apiserver 1.20 with Go 1.19 (about 8 min cold on 2 cores)" "$CACHE_DIR/build-legacy.log" legacy_make
  install -m 0755 "$TREE/_output/bin/kube-apiserver" "$LEGACY_BIN.tmp"
  mv "$LEGACY_BIN.tmp" "$LEGACY_BIN"
  # The build tree is ~2 GB; keep only the binary and the downloaded source.
  rm -rf "$GOPATH_DIR" "$CACHE_DIR/gocache-legacy"
fi
link "$LEGACY_BIN" kube-apiserver-1.20
log "kube-apiserver 1.20 (legacy): $BIN_DIR/kube-apiserver-1.20"
log "ready: $(ls "$BIN_DIR" | grep -v -- '-[0-9a-f]\{10\}$' | grep -v '+really' | tr '\n' ' ')"
