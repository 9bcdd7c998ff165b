/* Images/s of the FID Inception's forward (prepared 299x299 input, batches of
 * 16, the pool features), for bench/inception.sh, which runs PyTorch on the
 * same TorchScript beside it. Usage: inception_bench IMAGES THREADS
 * (weights from $LAPGAN_CACHE, scripts/setup-inception.sh). Prints
 * "ours IMAGES/S". One warm-up batch is not timed: it records the plan
 * (oneDNN creates its primitives and reorders the weights there). */
#include <stdio.h>
#include <stdlib.h>

#include "lapgan.h"

int main(int argc, char **argv) {
    if (argc != 3) return fprintf(stderr, "usage: inception_bench IMAGES THREADS\n"), 2;
    const int n = atoi(argv[1]), b = 16;
    lg_set_threads(atoi(argv[2]));
    char path[4096];
    lg_inception *net = NULL;
    if (lg_inception_default_path(path, sizeof path) != LG_OK ||
        lg_inception_load(&net, path) != LG_OK)
        return fprintf(stderr, "inception_bench: %s\n", lg_errmsg()), 1;
    const size_t img = 3 * 299 * 299;
    float *x = lg_alloc_floats(img * b), *f = lg_alloc_floats((size_t)b * 2048);
    lg_rng r;
    lg_rng_init(&r, 1, 0);
    lg_rng_uniform(&r, x, img * b, -1, 0.9921875f);
    if (lg_inception_forward(net, x, b, f) != LG_OK) return fprintf(stderr, "%s\n", lg_errmsg()), 1;
    double t0 = lg_time_s();
    int done = 0;
    for (; done < n; done += b)
        if (lg_inception_forward(net, x, b, f) != LG_OK) return fprintf(stderr, "%s\n", lg_errmsg()), 1;
    printf("ours %.3f\n", done / (lg_time_s() - t0));
    lg_free(x), lg_free(f);
    lg_inception_free(net);
    return 0;
}
