/* Internal: the model-file table's checks, for lg_model_desc_validate. */
#ifndef LG_GAN_MODEL_JSON_H
#define LG_GAN_MODEL_JSON_H
#include "lapgan/gan.h"

/* Every field of m within the range and names src/gan/model_json.c's table
 * allows, so that what validates can be written and read back. */
lg_status lg_model_desc_check_keys(const lg_model_desc *m);
#endif
