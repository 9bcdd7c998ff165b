#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int lg_cli_fail(const char *cmd, lg_status s) {
    fprintf(stderr, "lapgan %s: %s\n", cmd, lg_errmsg()[0] ? lg_errmsg() : lg_status_name(s));
    return s == LG_ERR_ARG ? LG_EXIT_USAGE : LG_EXIT_FAIL;
}

int lg_cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "lapgan %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'lapgan %s --help')\n", cmd);
    return LG_EXIT_USAGE;
}

int lg_cli_precision(const char *cmd, const char *flag, const char *s, int *bf16) {
    if (!s) return lg_cli_usage_error(cmd, "%s needs a value", flag);
    if (strcmp(s, "fp32") && strcmp(s, "bf16"))
        return lg_cli_usage_error(cmd, "%s wants fp32 or bf16, got '%s'", flag, s);
    *bf16 = !strcmp(s, "bf16");
    return LG_EXIT_OK;
}

int lg_cli_backend(const char *cmd, int base, int bf16, lg_backend_kind *out) {
    if (bf16 && base != LG_BACKEND_CPU)
        return lg_cli_usage_error(cmd, "--precision bf16 runs on the cpu backend only (ref is the "
                                       "float32 oracle)");
    lg_backend_kind k = bf16 ? LG_BACKEND_CPU_BF16 : (lg_backend_kind)base;
    lg_status st = lg_backend_check(k);
    if (st != LG_OK) return lg_cli_fail(cmd, st);
    *out = k;
    return LG_EXIT_OK;
}

int lg_cli_int(const char *cmd, const char *flag, const char *s, long lo, long hi, long *out) {
    if (!s) return lg_cli_usage_error(cmd, "%s needs a value", flag);
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return lg_cli_usage_error(cmd, "%s wants an integer in [%ld, %ld], got '%s'", flag, lo,
                                  hi, s);
    *out = v;
    return LG_EXIT_OK;
}

int lg_cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi,
                 double *out) {
    if (!s) return lg_cli_usage_error(cmd, "%s needs a value", flag);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return lg_cli_usage_error(cmd, "%s wants a number in [%g, %g], got '%s'", flag, lo, hi,
                                  s);
    *out = v;
    return LG_EXIT_OK;
}

int lg_cli_is_help(const char *s) { return s && (!strcmp(s, "-h") || !strcmp(s, "--help")); }

int lg_cli_test_spec(const char *data, char *buf, size_t len) {
    static const char *const kinds[] = {"fashion", "cifar10", "stl10"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t k = strlen(kinds[i]);
        if (!strncmp(data, kinds[i], k) && (data[k] == 0 || data[k] == ':')) {
            snprintf(buf, len, "%s-test%s", kinds[i], data + k);
            return 1;
        }
    }
    return 0;
}
