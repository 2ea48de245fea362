/* Runs each ported seed example on the virtual clock (CIO_VIRTUAL_CLOCK=1:
 * same output, no waiting) and compares its output with
 * examples/expected/<name>.txt. */
#include <cio/test.h>

#include <stdlib.h>

static int run_example(const char *name) {
    const char *build = getenv("CIO_BUILD_DIR");
    const char *src = getenv("CIO_SOURCE_DIR");
    if (!build || !src) {
        cio_test_fail(__FILE__, __LINE__, "CIO_BUILD_DIR/CIO_SOURCE_DIR not set (run via ctest)");
        return 1;
    }
    char cmd[1024], path[1024];
    snprintf(cmd, sizeof cmd, "cd %s && CIO_VIRTUAL_CLOCK=1 %s/examples/%s 2>&1",
             cio_test_tmpdir(), build, name);
    snprintf(path, sizeof path, "%s/examples/expected/%s.txt", src, name);
    char got[8192] = {0}, want[8192] = {0};
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(got, 1, sizeof got - 1, p) : 0;
    int st = p ? pclose(p) : -1;
    FILE *f = fopen(path, "r");
    size_t m = f ? fread(want, 1, sizeof want - 1, f) : 0;
    if (f)
        fclose(f);
    (void)n, (void)m;
    if (st != 0)
        cio_test_fail(__FILE__, __LINE__, "%s exited with status %d; output:\n%s", name, st, got);
    else if (strcmp(got, want) != 0)
        cio_test_fail(__FILE__, __LINE__, "%s printed:\n%s\nexpected:\n%s", name, got, want);
    return 0;
}

CIO_TEST(example_run) { run_example("run"); }
CIO_TEST(example_task) { run_example("task"); }
CIO_TEST(example_gather) { run_example("gather"); }
CIO_TEST(example_as_completed) { run_example("as_completed"); }
CIO_TEST(example_gather_exceptions) { run_example("gather_exceptions"); }
CIO_TEST(example_as_completed_exceptions) { run_example("as_completed_exceptions"); }
CIO_TEST(example_cancel) { run_example("cancel"); }
CIO_TEST(example_shield) { run_example("shield"); }
CIO_TEST(example_timeout) { run_example("timeout"); }
