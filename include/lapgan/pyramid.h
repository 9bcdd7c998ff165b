/* lapgan pyramid: the Laplacian pyramid of Burt & Adelson (1983) and the
 * resampling operators d(.) and u(.) that LAPGAN's levels share.
 *
 * Level 0 is the finest. For sizes s_0 > s_1 > ... > s_K:
 *   I_0 = image, I_{k+1} = d(I_k) resized to s_{k+1}
 *   h_k = I_k - u(I_{k+1})   (k < K),   h_K = I_K (the low-pass residual)
 *   reconstruct: I_k = u(I_{k+1}) + h_k, exact to float rounding.
 * Sizes need not be powers of two, nor exact halves (28 -> 14 -> 7 and
 * 28 -> 14 -> 8 both work).
 */
#ifndef LAPGAN_PYRAMID_H
#define LAPGAN_PYRAMID_H

#include "lapgan/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_PYR_MAX_LEVELS 8

/* Every resampler is separable (rows, then columns) and each axis picks its
 * own taps; in == out on an axis is a copy. */
typedef enum {
    /* The paper (Burt & Adelson). Per axis, with b = [1 4 6 4 1]/16:
     *  down, out == ceil(in/2): y[i] = sum_k b[k] x[2i+k-2], border
     *    BORDER_REFLECT_101, i.e. exactly cv2.pyrDown;
     *  up, out == 2*in (or 2*in-1, cropped): zero-insert to 2*in, blur with
     *    2*b, reflect-101 on the 2*in grid, i.e. exactly cv2.pyrUp;
     *  other ratios (14 -> 8, 8 -> 14), r = in/out:
     *    down: y[i] = sum_x W(2(x - c_i)/r) x[x], c_i = (i+0.5)r - 0.5,
     *      W piecewise linear through (0,6) (+-1,4) (+-2,1) (+-3,0);
     *    up: y[i] = sum_j K(t_i - j) x[j], t_i = (i+0.5)r - 0.5,
     *      K piecewise linear through (0,.75) (+-.5,.5) (+-1,.125) (+-1.5,0);
     *    sums over existing samples only, weights normalised to 1 per output.
     *  At r = 2, W hits the taps of b exactly. */
    LG_PYR_BINOMIAL = 0,
    /* The authors' code (eyescream, Torch image.scale): area-average shrink
     * (each output is the mean of the input span [i, i+1) * in/out, partial
     * samples weighted by overlap = cv2 INTER_AREA), bilinear enlarge with
     * corners aligned (align_corners=True: x_in = i (in-1)/(out-1)). */
    LG_PYR_AREA_BILINEAR,
    LG_PYR_FILTER_COUNT
} lg_pyr_filter;

const char *lg_pyr_filter_name(lg_pyr_filter f);
lg_status lg_pyr_filter_parse(const char *name, lg_pyr_filter *f);

/* d(.): x [n,c,h,w] -> y [n,c,oh,ow] with oh <= h, ow <= w. Planes run in
 * parallel (OpenMP); results do not depend on the thread count. Each call
 * allocates one small workspace (tap tables + h*ow floats per thread). */
lg_status lg_pyr_down(lg_pyr_filter f, const float *x, int n, int c, int h, int w, float *y,
                      int oh, int ow);
/* u(.): x [n,c,h,w] -> y [n,c,oh,ow] with oh >= h, ow >= w. */
lg_status lg_pyr_up(lg_pyr_filter f, const float *x, int n, int c, int h, int w, float *y,
                    int oh, int ow);

/* Square levels: size[0] is the image size, size[k] the size of level k. */
typedef struct {
    int levels; /* K + 1 */
    int n, c;
    int size[LG_PYR_MAX_LEVELS];
    lg_pyr_filter filter;
    float *band[LG_PYR_MAX_LEVELS]; /* band[k]: [n,c,size[k],size[k]]; owned */
} lg_pyramid;

/* Allocates the bands for n images of c channels. */
lg_status lg_pyramid_new(lg_pyramid **out, lg_pyr_filter f, int n, int c, const int *sizes,
                         int levels);
void lg_pyramid_free(lg_pyramid *p);
/* Fills the bands from images [n,c,size[0],size[0]]. */
lg_status lg_pyramid_build(lg_pyramid *p, const float *images);
/* Writes the level-k image I_k [n,c,size[k],size[k]] from bands k..K. */
lg_status lg_pyramid_reconstruct(const lg_pyramid *p, int k, float *out);

#ifdef __cplusplus
}
#endif
#endif
