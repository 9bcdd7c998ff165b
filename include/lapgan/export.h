/* lapgan export: a trained run as code other tools run without lapgan.
 *
 * Both formats rebuild the generator pyramid coarse to fine from the run's
 * level_<k>.safetensors: I_K = G_K(z_K), I_k = u(I_{k+1}) + G_k(z_k,
 * u(I_{k+1})), u(.) as the two constant matrices of the run's filter. The
 * noise z_k is an input, so given lg_model_noise's draws (and the same
 * labels) either copy reproduces lg_model_sample's images.
 */
#ifndef LAPGAN_EXPORT_H
#define LAPGAN_EXPORT_H

#include "lapgan/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes out_dir/lapgan_model.py (a self-contained module, only torch
 * needed: `lapgan_model.load()` returns a torch.nn.Module) and
 * out_dir/weights.safetensors (every level's G weights and batch-norm
 * statistics). out_dir is created when missing. */
lg_status lg_export_torch(const char *run_dir, const char *out_dir);

/* Writes the whole sampler as one ONNX graph (opset 13): inputs z_<k> per
 * level, shaped as lg_model_noise writes them, and for class-conditional
 * models "labels" (int64 [n]); output "image" [n, c, s_0, s_0]. */
lg_status lg_export_onnx(const char *run_dir, const char *out_path);

#ifdef __cplusplus
}
#endif
#endif
