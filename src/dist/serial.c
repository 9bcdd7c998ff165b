/* One process and no MPI: the default build. Every group is the process
 * alone, sums are the identity and text goes straight to the sink. */
#include <stdlib.h>

#include "dist/dist.h"

static lg_dist_sink g_sink;
static void *g_sink_ud;

lg_status lg_dist_init(int *argc, char ***argv) { return LG_OK; }
void lg_dist_finalize(void) {}
int lg_dist_rank(void) { return 0; }
int lg_dist_size(void) { return 1; }
const char *lg_dist_kind(void) { return "serial"; }

lg_status lg_dist_split(int color, lg_dist_comm **out) {
    *out = NULL;
    return LG_OK;
}
void lg_dist_comm_free(lg_dist_comm *c) {}
int lg_dist_comm_rank(const lg_dist_comm *c) { return 0; }
int lg_dist_comm_size(const lg_dist_comm *c) { return 1; }

lg_status lg_dist_allreduce_sum(lg_dist_comm *c, float *buf, size_t n) { return LG_OK; }
lg_status lg_dist_all_same(lg_dist_comm *c, uint64_t v, int *same) {
    *same = 1;
    return LG_OK;
}
lg_status lg_dist_world_sum(double *v) { return LG_OK; }

void lg_dist_set_sink(lg_dist_sink sink, void *ud) {
    g_sink = sink;
    g_sink_ud = ud;
}
void lg_dist_post(int level, const char *line) {
    if (g_sink) g_sink(g_sink_ud, level, line);
}
void lg_dist_poll(void) {}
int lg_dist_finish(int code) { return code; }
_Noreturn void lg_dist_abort(int code) { exit(code); }
