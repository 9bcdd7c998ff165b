#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lapgan/core.h"

static _Thread_local char lg__msg[1024];

static const char *const lg__status_names[] = {
    "ok", "bad-argument", "bad-shape", "out-of-memory", "io-error",
    "bad-format", "not-finite", "unsupported", "interrupted",
};
_Static_assert(sizeof(lg__status_names) / sizeof(lg__status_names[0]) == LG_STATUS_COUNT,
               "one name per lg_status");

const char *lg_version(void) { return LG_VERSION; }

const char *lg_status_name(lg_status s) {
    if ((int)s < 0 || s >= LG_STATUS_COUNT) return "unknown-status";
    return lg__status_names[s];
}

const char *lg_errmsg(void) { return lg__msg; }

void lg_error_clear(void) { lg__msg[0] = 0; }

lg_status lg_error(lg_status s, const char *fmt, ...) {
    /* Format aside first: callers may prefix the current message by passing
     * lg_errmsg() as an argument. */
    char buf[sizeof lg__msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(lg__msg, buf, sizeof buf);
    /* Messages are one line by contract: fold any newline a caller let in. */
    for (char *p = lg__msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return s;
}
