/* web_assets.c: the files of src/serve/web/, embedded at build time with
 * the assembler's .incbin (paths are relative to the repository root,
 * where make runs the compiler; the Makefile makes this object depend on
 * them). */
#include "serve/web_assets.h"

#include <string.h>

#define EMBED(sym, file)                            \
    __asm__(".section .rodata\n"                    \
            ".global " #sym "\n"                    \
            ".balign 16\n" #sym ":\n"               \
            ".incbin \"" file "\"\n"                \
            ".global " #sym "_end\n" #sym "_end:\n" \
            ".byte 0\n"                             \
            ".previous\n");                         \
    extern const char sym[], sym##_end[]

EMBED(chirp_web_index, "src/serve/web/index.html");
EMBED(chirp_web_css, "src/serve/web/chat.css");
EMBED(chirp_web_js, "src/serve/web/chat.js");

bool web_asset_find(const char *path, WebAsset *out) {
    static const char *const paths[3] = {"/index.html", "/chat.css", "/chat.js"};
    static const char *const types[3] = {"text/html; charset=utf-8", "text/css; charset=utf-8",
                                         "text/javascript; charset=utf-8"};
    const char *starts[3] = {chirp_web_index, chirp_web_css, chirp_web_js};
    const char *ends[3] = {chirp_web_index_end, chirp_web_css_end, chirp_web_js_end};
    for (int i = 0; i < 3; i++) {
        if (strcmp(path, paths[i]) != 0) continue;
        *out = (WebAsset){paths[i], types[i], starts[i], (size_t)(ends[i] - starts[i])};
        return true;
    }
    return false;
}
