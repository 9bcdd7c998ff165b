#include <time.h>
#include <omp.h>

#include "lapgan/core.h"

/* OpenBLAS is linked in its OpenMP flavour, so it draws from the same thread
 * pool as our loops: one setting governs both and nothing oversubscribes. */
void openblas_set_num_threads(int n);

static int lg__threads;

void lg_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    lg__threads = n;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int lg_get_threads(void) { return lg__threads > 0 ? lg__threads : omp_get_max_threads(); }

double lg_time_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
