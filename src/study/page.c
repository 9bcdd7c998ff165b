/* The participant's page, src/study/page.html, assembled into the binary
 * as it is (one file, no external assets), NUL-terminated. */
#include "study/study.h"

__asm__(".section .rodata\n"
        ".global lg_study_page\n"
        ".type lg_study_page, @object\n"
        ".balign 16\n"
        "lg_study_page:\n"
        ".incbin \"src/study/page.html\"\n"
        "lg_study_page_end:\n"
        ".byte 0\n"
        ".global lg_study_page_len\n"
        ".type lg_study_page_len, @object\n"
        ".balign 4\n"
        "lg_study_page_len:\n"
        ".long lg_study_page_end - lg_study_page\n"
        ".previous\n");
