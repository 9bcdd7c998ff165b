/* Several processes on one training run (MPI ranks), behind one small
 * interface with two implementations that the build chooses between:
 * serial.c (one process, no MPI: the default build) and mpi.c (make MPI=1).
 * Nothing outside src/dist/ knows which one it got.
 *
 * Only the calling thread talks to other processes. Ranks sharing a level
 * form a group (lg_dist_comm); a NULL group is the calling process alone.
 * Text for the user (progress lines, messages) goes to rank 0, which hands
 * it to one sink, so the job prints one readable stream. */
#ifndef LG_DIST_H
#define LG_DIST_H
#include <stddef.h>
#include <stdint.h>

#include "lapgan/core.h"

typedef struct lg_dist_comm lg_dist_comm;

/* Joins the job (MPI_Init) when started by mpirun; a no-op otherwise. */
lg_status lg_dist_init(int *argc, char ***argv);
/* Leaves it (MPI_Finalize) after lg_dist_finish. */
void lg_dist_finalize(void);
/* This process's rank and the job's size (0 and 1 before init or without MPI). */
int lg_dist_rank(void);
int lg_dist_size(void);
/* "mpi" or "serial", for the run's first line. */
const char *lg_dist_kind(void);

/* Every rank calls it: ranks passing the same color form one group, ordered
 * by rank. A group of one is returned as NULL. */
lg_status lg_dist_split(int color, lg_dist_comm **out);
void lg_dist_comm_free(lg_dist_comm *c); /* accepts NULL */
int lg_dist_comm_rank(const lg_dist_comm *c);
int lg_dist_comm_size(const lg_dist_comm *c);

/* buf = the sum of every group member's buf (MPI_Allreduce in place). All
 * members receive the same bits. */
lg_status lg_dist_allreduce_sum(lg_dist_comm *c, float *buf, size_t n);
/* *same = 1 when every member passed the same v (a hash of its weights). */
lg_status lg_dist_all_same(lg_dist_comm *c, uint64_t v, int *same);
/* The sum of v over all ranks of the job; also a barrier. */
lg_status lg_dist_world_sum(double *v);

/* Where rank 0 delivers text: level >= 0 for a level's progress line, -1
 * for a message line. */
typedef void (*lg_dist_sink)(void *ud, int level, const char *line);
void lg_dist_set_sink(lg_dist_sink sink, void *ud);
/* Rank 0: to the sink now. Other ranks: sent to rank 0 (line is cut at
 * 1000 bytes). */
void lg_dist_post(int level, const char *line);
/* Rank 0: delivers what other ranks have sent so far. Others: nothing. */
void lg_dist_poll(void);
/* The end of the job for this rank, with its exit code. Rank 0 delivers
 * text until every rank has finished and returns the job's exit code (the
 * first non-zero one); others return code. */
int lg_dist_finish(int code);
/* Ends every rank at once after an error was printed (MPI_Abort). */
_Noreturn void lg_dist_abort(int code);
#endif
