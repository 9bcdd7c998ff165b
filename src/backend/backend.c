/* The backend registry: one table per implementation, chosen per network. */
#include "backend/cpu/cpu.h"
#include "backend/ref/ref.h"
#include "core/check.h"

const lg_backend *lg_backend_get(lg_backend_kind k) {
    switch (k) {
    case LG_BACKEND_CPU: return &lg_backend_cpu_table;
    case LG_BACKEND_REF: return &lg_backend_ref_table;
    case LG_BACKEND_CPU_BF16: return lg_cpu_has_bf16() ? &lg_backend_cpu_bf16_table : NULL;
    default: return NULL;
    }
}

lg_status lg_backend_check(lg_backend_kind k) {
    if (k == LG_BACKEND_CPU_BF16 && !lg_cpu_has_bf16())
        return lg_error(LG_ERR_UNSUPPORTED,
                        "bf16 needs a CPU with AVX512-BF16 or AMX-BF16; this one has neither "
                        "(lscpu flags avx512_bf16, amx_bf16); use --precision fp32");
    if (k == LG_BACKEND_CPU_BF16) LG_TRY(lg_cpu_bf16_settings_check());
    LG_CHECK(lg_backend_get(k), LG_ERR_ARG, "unknown backend %d", (int)k);
    return LG_OK;
}

static const char *const names[LG_BACKEND_COUNT] = {"cpu", "ref", "cpu-bf16"};

const char *lg_backend_name(lg_backend_kind k) {
    return (int)k >= 0 && k < LG_BACKEND_COUNT ? names[k] : "unknown";
}
