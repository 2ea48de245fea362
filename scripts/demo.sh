#!/bin/sh
# make demo: runs every ported example, one after the other, with a title.
# Each prints what its Python original prints, with the same timing.
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
run() {
    name=$1
    shift
    if [ ! -x "$BUILD/examples/$name" ]; then
        echo "== $name: not built"
        return
    fi
    echo
    echo "== examples/$name.c"
    start=$(date +%s%N)
    "$BUILD/examples/$name" "$@"
    end=$(date +%s%N)
    awk -v n="$name" -v s="$start" -v e="$end" 'BEGIN { printf "-- %s took %.2f s\n", n, (e - s) / 1e9 }'
}
echo "cio demo: C ports of the asyncio examples in the seed documents"
# Core: run, tasks, gather, as_completed, errors, cancellation, shield, timeouts.
for e in run task gather as_completed gather_exceptions as_completed_exceptions cancel shield timeout; do
    run $e
done
# Coordination, blocking work, files, logging (when built).
for e in $(cat scripts/demo-more.txt 2>/dev/null); do
    run $e
done

# Networking: an echo server and two clients, TLS against a throw-away CA,
# and the static file server answering two requests.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -x "$BUILD/examples/echo_server" ] && [ -x "$BUILD/examples/echo_client" ]; then
    echo
    echo "== examples/echo_server.c + examples/echo_client.c"
    "$BUILD/examples/echo_server" --port 18888 --count 2 &
    srv=$!
    "$BUILD/examples/echo_client" --port 18888 hello "cio streams"
    "$BUILD/examples/echo_client" --host localhost --port 18888 again
    wait $srv
fi
if [ -x "$BUILD/examples/tls_client" ]; then
    echo
    echo "== examples/tls_client.c --local"
    (cd "$tmp" && "$OLDPWD/$BUILD/examples/tls_client" --local)
fi
if [ -x "$BUILD/examples/serve" ] && command -v curl >/dev/null; then
    echo
    echo "== examples/serve.c"
    mkdir -p "$tmp/site"
    echo "<h1>hello from cio</h1>" > "$tmp/site/index.html"
    "$BUILD/examples/serve" --port 18889 --root "$tmp/site" --requests 2 &
    srv=$!
    for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:18889/healthz 2>/dev/null && break; sleep 0.1; done
    curl -s -i http://127.0.0.1:18889/ | head -3
    wait $srv
fi
