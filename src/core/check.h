/* Internal early-return helpers (after zstd's RETURN_ERROR_IF / FORWARD_IF_ERROR).
 * They keep the happy path readable; every error carries a message. */
#ifndef LG_CORE_CHECK_H
#define LG_CORE_CHECK_H
#include "lapgan/core.h"

#define LG_CHECK(cond, status, ...)                \
    do {                                           \
        if (!(cond)) return lg_error((status), __VA_ARGS__); \
    } while (0)

#define LG_TRY(expr)                               \
    do {                                           \
        lg_status lg__s = (expr);                  \
        if (lg__s != LG_OK) return lg__s;          \
    } while (0)

/* Like LG_TRY but jumps to a cleanup label, with `st` holding the status. */
#define LG_TRY_GOTO(st, expr, label)               \
    do {                                           \
        (st) = (expr);                             \
        if ((st) != LG_OK) goto label;             \
    } while (0)

#define LG_ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#endif
