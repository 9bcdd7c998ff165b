/* lapgan: Laplacian pyramid GANs (Denton, Chintala, Szlam, Fergus 2015) in C.
 *
 * One include gives the whole public API. Every name starts with lg_;
 * objects come in lg_x_new / lg_x_free pairs (free accepts NULL); fallible
 * functions return lg_status and leave a one-line message in lg_errmsg().
 * Link with -llapgan (liblapgan.so.0, or liblapgan.a and its libraries).
 *
 * Example: train the tiny preset for 2 steps on images in memory, then draw
 * 4 samples from the run directory. (tests/cli/python_api.sh compiles and
 * runs the lines between BEGIN and END.)
 *
 * BEGIN example
 *   #include <lapgan.h>
 *   #include <stdio.h>
 *
 *   int main(int argc, char **argv) {
 *       static uint8_t px[64 * 28 * 28];          // the caller's images
 *       for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 7 % 251);
 *       lg_model_desc d;
 *       lg_dataset *ds = NULL;
 *       lg_model *m = NULL;
 *       float img[4 * 28 * 28];
 *       lg_train_cfg cfg = {.run_dir = argc > 1 ? argv[1] : "run", .steps = 2, .seed = 1};
 *       if (lg_preset("tiny", &d) != LG_OK ||
 *           lg_dataset_from_memory(&ds, px, LG_DTYPE_U8, LG_LAYOUT_NCHW, 64, 1, 28, 28,
 *                                  NULL, 0, "example") != LG_OK ||
 *           lg_train(&d, ds, &cfg) != LG_OK ||
 *           lg_model_load(&m, cfg.run_dir, LG_BACKEND_CPU) != LG_OK ||
 *           lg_model_sample(m, 4, 7, NULL, img, NULL) != LG_OK) {
 *           fprintf(stderr, "lapgan: %s\n", lg_errmsg());
 *           return 1;
 *       }
 *       printf("first pixel %g\n", img[0]);
 *       lg_model_free(m);
 *       lg_dataset_free(ds);
 *       return 0;
 *   }
 * END example
 *
 *   lapgan/core.h     status codes, threads, Philox RNG, tensors, arena
 *   lapgan/nn.h       layers, networks, losses, optimisers
 *   lapgan/pyramid.h  Laplacian pyramid, d(.) and u(.)
 *   lapgan/data.h     IDX, CIFAR-10, image folders, caller's memory; minibatch iterator
 *   lapgan/io.h       PNG/JPEG, grids, safetensors, atomic writes
 *   lapgan/gan.h      presets, levels, sampler, checkpoints, trainer
 *   lapgan/eval.h     Parzen, nearest neighbours, Frechet distance, classifier
 *   lapgan/export.h   a run as a PyTorch module or an ONNX graph
 */
#ifndef LAPGAN_H
#define LAPGAN_H
#include "lapgan/core.h"
#include "lapgan/nn.h"
#include "lapgan/pyramid.h"
#include "lapgan/data.h"
#include "lapgan/io.h"
#include "lapgan/gan.h"
#include "lapgan/eval.h"
#include "lapgan/export.h"
#endif
