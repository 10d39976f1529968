/* amx_config.h: the one tile configuration chirp's AMX kernels use
 * (gemm_amx.c, tiles_bf16.c): all eight tiles 16 rows of 64 bytes. */
#ifndef CHIRP_COMPUTE_AMX_CONFIG_H
#define CHIRP_COMPUTE_AMX_CONFIG_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* The 64-byte operand of LDTILECFG (palette 1). */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} AmxTileConfig;

__attribute__((target("amx-tile"))) static inline void amx_load_full_tiles(void) {
    AmxTileConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.rows[t] = 16, cfg.colsb[t] = 64;
    _tile_loadconfig(&cfg);
}

#endif
