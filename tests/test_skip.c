/* The skip rule of tests/test.h: SKIP is a FAIL under CI=true, SKIP_ABSENT
 * stays a SKIP tagged T_ABSENT_TAG, a SKIP without a reason always fails.
 * This program runs itself as a child (T_SKIP_CHILD=1) whose cases force a
 * missing dependency, with and without CI=true, and checks its lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static void forced_missing(void) { SKIP("forced: no-such-package-lapgan is not installed"); }
static void forced_absent(void) { SKIP_ABSENT("forced: no GPU on this machine"); }
static void forced_no_reason(void) { SKIP("%s", ""); }
static void after_skips(void) { CHECK(1); }

/* Runs the child with CI set to ci (NULL: unset); its stdout into out. */
static int run_child(const char *ci, char *out, size_t cap) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s T_SKIP_CHILD=1 /proc/%d/exe", ci ? ci : "env -u CI",
             (int)getpid());
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int has_line(const char *out, const char *line) {
    for (const char *s = out; (s = strstr(s, line)); s++)
        if ((s == out || s[-1] == '\n') && (s[strlen(line)] == '\n' || !s[strlen(line)]))
            return 1;
    return 0;
}

static void test_missing_dependency_fails_under_ci(void) {
    static char out[8192];
    int rc = run_child("env CI=true", out, sizeof out);
    CHECK_MSG(rc == 1, "child exit %d", rc);
    CHECK_MSG(has_line(out, "FAIL forced_missing: cannot run under CI=true (the set-up must "
                            "provide it): forced: no-such-package-lapgan is not installed"),
              "%s", out);
    CHECK_MSG(has_line(out, "SKIP forced_absent: forced: no GPU on this machine " T_ABSENT_TAG),
              "%s", out);
    CHECK_MSG(has_line(out, "FAIL forced_no_reason: SKIP without a reason"), "%s", out);
    CHECK_MSG(has_line(out, "PASS after_skips"), "%s", out);
    CHECK_MSG(has_line(out, "# 1 passed, 2 failed, 1 skipped"), "%s", out);
}

static void test_missing_dependency_skips_without_ci(void) {
    static char out[8192];
    int rc = run_child(NULL, out, sizeof out);
    CHECK_MSG(rc == 1, "child exit %d (the reasonless SKIP fails)", rc);
    CHECK_MSG(has_line(out, "SKIP forced_missing: forced: no-such-package-lapgan is not installed"),
              "%s", out);
    CHECK_MSG(has_line(out, "FAIL forced_no_reason: SKIP without a reason"), "%s", out);
    CHECK_MSG(has_line(out, "# 1 passed, 1 failed, 2 skipped"), "%s", out);
    /* CI must be exactly "true" to count (the CI's own convention). */
    rc = run_child("env CI=1", out, sizeof out);
    CHECK(has_line(out, "SKIP forced_missing: forced: no-such-package-lapgan is not installed"));
}

int main(void) {
    if (getenv("T_SKIP_CHILD")) {
        RUN(forced_missing);
        RUN(forced_absent);
        RUN(forced_no_reason);
        RUN(after_skips);
        return TEST_END();
    }
    RUN(test_missing_dependency_fails_under_ci);
    RUN(test_missing_dependency_skips_without_ci);
    return TEST_END();
}
