/* web_assets.h: the chat page's files (src/serve/web/), built into the
 * binary so `chirp serve` needs nothing beside itself. */
#ifndef CHIRP_SERVE_WEB_ASSETS_H
#define CHIRP_SERVE_WEB_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct WebAsset {
    const char *path; /* "/index.html" */
    const char *content_type;
    const char *data;
    size_t len;
} WebAsset;

/* Fills out with the asset served at path; false if there is none. */
bool web_asset_find(const char *path, WebAsset *out);

#endif
