/* Seed 000, "asyncio.Lock": two tasks take turns in a critical section.
 *
 *   lock = asyncio.Lock()
 *   async def critical_section(name):
 *       async with lock:
 *           print(f"{name} がロック取得"); await asyncio.sleep(1); print(f"{name} がロック解放")
 *   async def main():
 *       await asyncio.gather(critical_section("タスクA"), critical_section("タスクB"))
 *
 * Prints, over 2 seconds (B waits for A; they never interleave):
 *   タスクA がロック取得
 *   タスクA がロック解放
 *   タスクB がロック取得
 *   タスクB がロック解放
 */
#include <cio.h>

#include <stdio.h>

static cio_lock lock = CIO_LOCK_INIT;

static int critical_section(void *arg) {
    const char *name = arg;
    int rc;
    CIO_LOCKED(&lock, rc) {
        printf("%s がロック取得\n", name);
        rc = cio_sleep(CIO_SEC);
        printf("%s がロック解放\n", name);
    }
    return rc;
}

static int amain(void *arg) {
    (void)arg;
    cio_task *t[2] = {cio_spawn(critical_section, "タスクA"),
                      cio_spawn(critical_section, "タスクB")};
    return cio_gather(t, 2, NULL);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cio_run(amain, NULL);
    if (rc < 0)
        fprintf(stderr, "lock_critical_section: %s\n", cio_errmsg());
    return rc < 0;
}
