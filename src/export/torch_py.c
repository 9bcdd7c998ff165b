/* src/export/torch_model.py, the exported module's code, assembled into the
 * library as it is, NUL-terminated (as src/study/page.c does the page). */
#include <stddef.h>

__asm__(".section .rodata\n"
        ".global lg_export_torch_py\n"
        ".type lg_export_torch_py, @object\n"
        ".balign 16\n"
        "lg_export_torch_py:\n"
        ".incbin \"src/export/torch_model.py\"\n"
        ".byte 0\n"
        ".previous\n");
