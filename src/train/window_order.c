#include "train/window_order.h"

#include "model/rng.h"
#include "util/error.h"

size_t window_order(size_t nwindows, int shuffle, unsigned long long seed, long long batch, size_t **perm,
                    long long *perm_pass) {
    size_t k = (size_t)(batch % (long long)nwindows);
    if (!shuffle) return k;
    long long pass = batch / (long long)nwindows;
    if (pass != *perm_pass) {
        size_t *p = *perm ? *perm : xmalloc(nwindows * sizeof(size_t));
        for (size_t i = 0; i < nwindows; i++) p[i] = i;
        Rng r;
        rng_seed(&r, seed ^ (0x5DEECE66DULL * (unsigned long long)(pass + 1)));
        for (size_t i = nwindows - 1; i > 0; i--) {
            size_t j = (size_t)rng_below(&r, i + 1);
            size_t t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        *perm = p;
        *perm_pass = pass;
    }
    return (*perm)[k];
}
