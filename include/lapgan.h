/* lapgan: Laplacian pyramid GANs (Denton, Chintala, Szlam, Fergus 2015) in C.
 *
 * One include gives the whole public API. Every name starts with lg_;
 * objects come in lg_x_new / lg_x_free pairs (free accepts NULL); fallible
 * functions return lg_status and leave a one-line message in lg_errmsg().
 *
 *   lapgan/core.h     status codes, threads, Philox RNG, tensors, arena
 *   lapgan/nn.h       layers, networks, losses, optimisers
 *   lapgan/pyramid.h  Laplacian pyramid, d(.) and u(.)
 *   lapgan/data.h     IDX, CIFAR-10, image folders; minibatch iterator
 *   lapgan/io.h       PNG/JPEG, grids, safetensors, atomic writes
 *   lapgan/eval.h     Parzen, nearest neighbours, Frechet distance, classifier
 */
#ifndef LAPGAN_H
#define LAPGAN_H
#include "lapgan/core.h"
#include "lapgan/nn.h"
#include "lapgan/pyramid.h"
#include "lapgan/data.h"
#include "lapgan/io.h"
#include "lapgan/eval.h"
#endif
