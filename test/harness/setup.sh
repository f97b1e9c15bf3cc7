#!/usr/bin/env bash
# Idempotent setup for the real-cluster test harness:
#   - Debian packages: etcd-server, prometheus, golang-go, rsync, dpkg-dev, reflect2 sources
#   - a real kube-apiserver built once from Debian bookworm's `kubernetes` source package,
#     cached outside the repo in ~/.cache/edot-ta/ keyed by the package version.
# A second run installs nothing and builds nothing.
set -euo pipefail

CACHE_DIR="${EDOT_TA_CACHE:-$HOME/.cache/edot-ta}"
K8S_UPSTREAM_VERSION="1.20.5+really1.20.2"   # bookworm's kubernetes source package
BUILD_RECIPE=1                                # bump when the build steps below change
APISERVER_BIN="$CACHE_DIR/kube-apiserver-${K8S_UPSTREAM_VERSION}-r${BUILD_RECIPE}"
APISERVER_LINK="$CACHE_DIR/kube-apiserver"   # what test/harness/cluster.ts starts
mkdir -p "$CACHE_DIR"

log() { printf '[edot-ta setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need_pkgs=()
command -v etcd >/dev/null 2>&1 || need_pkgs+=(etcd-server)
command -v prometheus >/dev/null 2>&1 || need_pkgs+=(prometheus)
if [ ! -x "$APISERVER_BIN" ]; then
  command -v go >/dev/null 2>&1 || need_pkgs+=(golang-go)
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

if [ -x "$APISERVER_BIN" ]; then
  ln -sfn "$APISERVER_BIN" "$APISERVER_LINK"
  log "kube-apiserver cached: $APISERVER_BIN"
  exit 0
fi

# --- fetch the source package through a private source list (never touch the machine's lists)
SRC_DIR="$CACHE_DIR/src"
mkdir -p "$SRC_DIR/lists/partial"
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
  log "downloading the kubernetes source package (~34 MB)"
  $SUDO apt-get "${APT_OPTS[@]}" update -qq
  (cd "$SRC_DIR" && $SUDO apt-get "${APT_OPTS[@]}" source --download-only kubernetes -qq)
  orig="$(ls "$SRC_DIR"/kubernetes_*.orig.tar.* | head -n1)"
fi
case "$(basename "$orig")" in
  "kubernetes_${K8S_UPSTREAM_VERSION}.orig.tar."*) ;;
  *) echo "unexpected kubernetes source version: $(basename "$orig") (want ${K8S_UPSTREAM_VERSION})" >&2; exit 1 ;;
esac

# --- unpack into a GOPATH layout
GOPATH_DIR="$CACHE_DIR/gopath"
TREE="$GOPATH_DIR/src/k8s.io/kubernetes"
rm -rf "$GOPATH_DIR"
mkdir -p "$TREE"
log "unpacking $(basename "$orig")"
tar -xf "$orig" -C "$TREE" --strip-components=1

# --- the vendored reflect2 v1.0.1 crashes under Go >= 1.18; use Debian's 1.0.2
R2="$TREE/vendor/github.com/modern-go/reflect2"
rm -f "$R2"/*.go "$R2"/*.s
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go "$R2"/
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$R2"/ 2>/dev/null || true
rm -f "$R2"/*_test.go

log "building kube-apiserver (about 7-10 minutes on 2 cores; progress every 30 s)"
(
  cd "$TREE"
  export HOME="$CACHE_DIR" GOPATH="$GOPATH_DIR" GO111MODULE=off GOFLAGS="" GOCACHE="$CACHE_DIR/gocache"
  make WHAT=cmd/kube-apiserver > "$CACHE_DIR/build.log" 2>&1
) &
build_pid=$!
start=$(date +%s)
while kill -0 "$build_pid" 2>/dev/null; do
  sleep 30
  kill -0 "$build_pid" 2>/dev/null || break
  log "still building... $(( $(date +%s) - start )) s elapsed; last: $(tail -n1 "$CACHE_DIR/build.log" | cut -c1-100)"
done
if ! wait "$build_pid"; then
  tail -n 40 "$CACHE_DIR/build.log" >&2
  echo "kube-apiserver build failed; full log: $CACHE_DIR/build.log" >&2
  exit 1
fi
install -m 0755 "$TREE/_output/bin/kube-apiserver" "$APISERVER_BIN.tmp"
mv "$APISERVER_BIN.tmp" "$APISERVER_BIN"
ln -sfn "$APISERVER_BIN" "$APISERVER_LINK"
log "built $APISERVER_BIN in $(( $(date +%s) - start )) s"
# The build tree is ~2 GB; keep only the binary and the downloaded source.
rm -rf "$GOPATH_DIR" "$CACHE_DIR/gocache"
