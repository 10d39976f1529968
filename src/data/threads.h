/* threads.h: reply chains among kept posts -> conversations.jsonl.
 *
 * A chain runs from a root (a kept post whose parent is not kept) down to
 * a leaf (a kept post no kept post replies to). Each chain of two or more
 * posts becomes one line {"messages": [{"role": "user", "content": ...},
 * {"role": "assistant", ...}, ...]}, roles alternating from the root. A
 * thread that branches yields one chain per leaf. */
#ifndef CHIRP_DATA_THREADS_H
#define CHIRP_DATA_THREADS_H

#include <sqlite3.h>
#include <stdio.h>

/* Writes the chains found in the catalog to out; returns the number of
 * chains, or -1 with the error set. */
long threads_write(sqlite3 *db, FILE *out);

#endif
