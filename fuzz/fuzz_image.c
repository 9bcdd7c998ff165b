/* PNG and JPEG decoding from memory, then fitting the decoded image to a
 * small square in grey and RGB (the folder loader's path). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lg_image *im = NULL;
    if (lg_image_decode(&im, data, size, "fuzz") == LG_OK) {
        if (!im || im->w <= 0 || im->h <= 0 || (im->c != 1 && im->c != 3 && im->c != 4)) abort();
        /* Fitting an image of many megapixels is slow, not interesting. */
        if ((size_t)im->w * im->h <= (size_t)1 << 20) {
            uint8_t out[3 * 24 * 24];
            lg_image_fit(im, 1, 24, out, "fuzz");
            lg_image_fit(im, 3, 7, out, "fuzz");
        }
    }
    lg_image_free(im);
    return 0;
}
