/* MPI (make MPI=1). Text travels on its own duplicate of MPI_COMM_WORLD so
 * it never meets the level groups' collectives. Lines are small (eager
 * sends), so a rank never waits long on rank 0: rank 0's MPI progress
 * engine takes them in whenever it is inside any MPI call, and it hands
 * them to the sink between its own steps (lg_dist_poll) and at the end
 * (lg_dist_finish), until every rank has said it is done. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "dist/dist.h"

enum { TAG_LINE = 1, TAG_DONE = 2, LINE_MAX = 1000 };

struct lg_dist_comm {
    MPI_Comm comm;
    int rank, size;
};

typedef struct {
    int32_t level;
    char text[LINE_MAX + 1];
} lg_line_msg;

static int g_on; /* MPI_Init was called here */
static int g_rank, g_size = 1;
static MPI_Comm g_text = MPI_COMM_NULL;
static lg_dist_sink g_sink;
static void *g_sink_ud;

/* Started by a launcher (Open MPI, MPICH/Hydra or a PMIx server)? A plain
 * `lapgan train` then stays one process, without MPI at all. */
static int launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

static lg_status mpi_error(int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return lg_error(LG_ERR_IO, "%s failed on rank %d: %.*s", what, g_rank, len, msg);
}

lg_status lg_dist_init(int *argc, char ***argv) {
    if (g_on || !launched()) return LG_OK;
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) return lg_error(LG_ERR_IO, "MPI_Init failed (code %d)", rc);
    g_on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    rc = MPI_Comm_dup(MPI_COMM_WORLD, &g_text);
    return rc == MPI_SUCCESS ? LG_OK : mpi_error(rc, "MPI_Comm_dup");
}

void lg_dist_finalize(void) {
    if (!g_on) return;
    MPI_Comm_free(&g_text);
    MPI_Finalize();
    g_on = 0;
    g_rank = 0;
    g_size = 1;
}

int lg_dist_rank(void) { return g_rank; }
int lg_dist_size(void) { return g_size; }
const char *lg_dist_kind(void) { return "mpi"; }

lg_status lg_dist_split(int color, lg_dist_comm **out) {
    *out = NULL;
    if (!g_on) return LG_OK;
    MPI_Comm c;
    int rc = MPI_Comm_split(MPI_COMM_WORLD, color, g_rank, &c);
    if (rc != MPI_SUCCESS) return mpi_error(rc, "MPI_Comm_split");
    int size;
    MPI_Comm_size(c, &size);
    if (size == 1) {
        MPI_Comm_free(&c);
        return LG_OK;
    }
    lg_dist_comm *d = lg_alloc(sizeof *d);
    if (!d) {
        MPI_Comm_free(&c);
        return LG_ERR_NOMEM;
    }
    d->comm = c;
    d->size = size;
    MPI_Comm_rank(c, &d->rank);
    *out = d;
    return LG_OK;
}

void lg_dist_comm_free(lg_dist_comm *c) {
    if (!c) return;
    MPI_Comm_free(&c->comm);
    lg_free(c);
}

int lg_dist_comm_rank(const lg_dist_comm *c) { return c ? c->rank : 0; }
int lg_dist_comm_size(const lg_dist_comm *c) { return c ? c->size : 1; }

lg_status lg_dist_allreduce_sum(lg_dist_comm *c, float *buf, size_t n) {
    if (!c || !n) return LG_OK;
    LG_CHECK(n <= (size_t)0x7fffffff, LG_ERR_ARG, "all-reduce of %zu floats is too large", n);
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, c->comm);
    return rc == MPI_SUCCESS ? LG_OK : mpi_error(rc, "MPI_Allreduce");
}

lg_status lg_dist_all_same(lg_dist_comm *c, uint64_t v, int *same) {
    *same = 1;
    if (!c) return LG_OK;
    /* max(v) and max(~v) = ~min(v): equal when all agree. */
    uint64_t x[2] = {v, ~v};
    int rc = MPI_Allreduce(MPI_IN_PLACE, x, 2, MPI_UINT64_T, MPI_MAX, c->comm);
    if (rc != MPI_SUCCESS) return mpi_error(rc, "MPI_Allreduce");
    *same = x[0] == ~x[1];
    return LG_OK;
}

lg_status lg_dist_world_sum(double *v) {
    if (!g_on) return LG_OK;
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? LG_OK : mpi_error(rc, "MPI_Allreduce");
}

void lg_dist_set_sink(lg_dist_sink sink, void *ud) {
    g_sink = sink;
    g_sink_ud = ud;
}

static void deliver(int level, const char *line) {
    if (g_sink) g_sink(g_sink_ud, level, line);
}

void lg_dist_post(int level, const char *line) {
    if (g_rank == 0) {
        deliver(level, line);
        return;
    }
    lg_line_msg m = {.level = level};
    snprintf(m.text, sizeof m.text, "%s", line);
    int len = (int)(offsetof(lg_line_msg, text) + strlen(m.text) + 1);
    MPI_Send(&m, len, MPI_BYTE, 0, TAG_LINE, g_text);
}

/* Receives the message that MPI_Probe/Iprobe found; returns its tag. */
static int receive(const MPI_Status *probe, int *done_code) {
    lg_line_msg m;
    memset(&m, 0, sizeof m);
    MPI_Recv(&m, (int)sizeof m, MPI_BYTE, probe->MPI_SOURCE, probe->MPI_TAG, g_text,
             MPI_STATUS_IGNORE);
    if (probe->MPI_TAG == TAG_LINE) {
        m.text[LINE_MAX] = 0;
        deliver(m.level, m.text);
    } else {
        *done_code = m.level;
    }
    return probe->MPI_TAG;
}

void lg_dist_poll(void) {
    if (!g_on || g_rank != 0) return;
    for (;;) {
        int flag = 0, code;
        MPI_Status s;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_LINE, g_text, &flag, &s);
        if (!flag) return;
        receive(&s, &code);
    }
}

int lg_dist_finish(int code) {
    if (!g_on) return code;
    if (g_rank != 0) {
        lg_line_msg m = {.level = code};
        MPI_Send(&m, (int)offsetof(lg_line_msg, text) + 1, MPI_BYTE, 0, TAG_DONE, g_text);
        return code;
    }
    int worst = code;
    for (int left = g_size - 1; left > 0;) {
        MPI_Status s;
        int done = 0;
        MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, g_text, &s);
        if (receive(&s, &done) == TAG_DONE) {
            left--;
            if (!worst) worst = done;
        }
    }
    return worst;
}

_Noreturn void lg_dist_abort(int code) {
    fflush(stderr);
    if (g_on) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}
