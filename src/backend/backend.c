/* The backend registry: one table per implementation, chosen per network. */
#include "backend/cpu/cpu.h"
#include "backend/ref/ref.h"

const lg_backend *lg_backend_get(lg_backend_kind k) {
    switch (k) {
    case LG_BACKEND_CPU: return &lg_backend_cpu_table;
    case LG_BACKEND_REF: return &lg_backend_ref_table;
    default: return NULL;
    }
}

const char *lg_backend_name(lg_backend_kind k) {
    const lg_backend *b = lg_backend_get(k);
    return b ? b->name : "unknown";
}
