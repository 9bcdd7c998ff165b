/* A cache of feature rows computed from images (eval nn's training-set
 * Inception features: 30,000 CIFAR images take ~40 min on 2 cores, so they
 * are computed once per set of images).
 *
 * Named by a key: the sha256 over the exact pixel bytes, their shape, the
 * resize mode and the network's weights, so any change to what goes in
 * gives another file, never a stale one. A file is
 *   "LGFEAT01", uint32 n, uint32 d, the key (64 hex), sha256 of the payload
 *   (32 bytes), then n * d float32
 * in host byte order (a machine-local cache, not an exchange format),
 * written atomically. */
#ifndef LG_EVAL_FEATURE_CACHE_H
#define LG_EVAL_FEATURE_CACHE_H
#include <stddef.h>
#include <stdint.h>

#include "lapgan/core.h"

enum { LG_FEATURE_CACHE_HEADER = 8 + 4 + 4 + 64 + 32 };

/* Hex sha256 (key[65]) of px [n, c, h, w] and then the text
 * "n=N c=C h=H w=W resize=RESIZE weights=WEIGHTS_SHA256". */
lg_status lg_feature_cache_key(const uint8_t *px, int n, int c, int h, int w, const char *resize,
                               const char *weights_sha256, char key[65]);
/* $LAPGAN_CACHE, else $HOME/.cache/lapgan (as lg_inception_default_path). */
lg_status lg_cache_dir(char *buf, size_t len);
/* <cache dir>/features-<space>-<key>.f32 */
lg_status lg_feature_cache_path(const char *space, const char *key, char *buf, size_t len);
/* Writes n x d features under key (atomically: temp file + rename). */
lg_status lg_feature_cache_write(const char *path, const char *key, const float *feats, int n,
                                 int d);
/* Reads the n x d features stored under key into out. Any file that is not
 * exactly that (absent, truncated or padded, another shape or key, a
 * payload that fails its checksum) is an error naming the path; out is then
 * undefined. */
lg_status lg_feature_cache_read(const char *path, const char *key, int n, int d, float *out);
#endif
