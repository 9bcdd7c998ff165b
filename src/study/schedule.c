/* The seeded, balanced trial schedule: what trial t of session s shows
 * depends only on (seed, s, t), so a restarted server continues a session
 * exactly where it stopped. */
#include "study/study.h"

enum { KIND_PAIR = 0, KIND_EXPOSURE = 1, KIND_START = 2 };

static void rng_for(lg_rng *r, const lg_study_cfg *cfg, int64_t session, uint64_t what,
                    int kind) {
    lg_rng_init(r, cfg->seed, ((uint64_t)session << 24) ^ (what << 2) ^ (uint64_t)kind);
}

#define PAIRS_MAX (LG_STUDY_MAX_SOURCES * 64)

/* Element pos of a shuffled 0..n-1, n <= PAIRS_MAX. */
static int shuffled(lg_rng *r, int n, int pos) {
    int idx[PAIRS_MAX];
    for (int i = 0; i < n; i++) idx[i] = i;
    lg_rng_shuffle(r, idx, (size_t)n);
    return idx[pos];
}

void lg_study_schedule(const lg_study_cfg *cfg, int64_t session, int t, lg_study_trial *out) {
    const int S = cfg->nsources, C = cfg->nclasses, E = cfg->nexposure;
    lg_rng r;
    rng_for(&r, cfg, session, (uint64_t)(t / (S * C)), KIND_PAIR);
    /* Past 64 classes pairs are drawn independently: balanced on average only. */
    const int pair = S * C <= PAIRS_MAX ? shuffled(&r, S * C, t % (S * C))
                                        : (int)lg_rng_below(&r, (uint64_t)S * C);
    const int src = pair % S, cls = pair / S, visit = t / (S * C);
    const lg_study_source *s = &cfg->src[src];
    /* A random starting point per pool, so sessions see different images. */
    rng_for(&r, cfg, session, s->conditional ? (uint64_t)pair : (1u << 20) + (uint64_t)src,
            KIND_START);
    const uint64_t start = lg_rng_u32(&r);
    if (s->conditional) {
        out->image = cls * s->per_class + (int)((start + (uint64_t)visit) % (uint64_t)s->per_class);
        out->cls = cfg->labelled ? cls : -1;
    } else {
        /* Every visit of this source gets the next image of its one pool. */
        const uint64_t n = (uint64_t)C * s->per_class;
        out->image = (int)((start + (uint64_t)visit * C + (uint64_t)cls) % n);
        out->cls = -1;
    }
    out->source = src;
    rng_for(&r, cfg, session, (uint64_t)(t / E), KIND_EXPOSURE);
    out->exposure_ms = cfg->exposure_ms[shuffled(&r, E, t % E)];
}
