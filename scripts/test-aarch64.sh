#!/bin/sh
# Cross-compiles the core and its tests for aarch64 and runs them under
# qemu-user, so the aarch64 context switch is exercised on x86_64 machines.
set -e
cd "$(dirname "$0")/.."
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user >/dev/null
    else
        echo "needs gcc-aarch64-linux-gnu and qemu-user" >&2
        exit 1
    fi
fi
out=${1:-build-aarch64}
mkdir -p "$out"
aarch64-linux-gnu-gcc -O2 -static -Wall -Wextra -Werror -Wno-unused-parameter \
    -DCIO_SWITCH_ASM=1 -Iinclude -Isrc src/core/*.c src/poll/*.c src/testing/harness.c \
    tests/test-core.c -lpthread -o "$out/test-core"
qemu-aarch64 "$out/test-core"
