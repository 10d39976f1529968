/* input_folder.h: ingest's inputs, with plain folders expanded.
 *
 * An input that is a folder but not an X archive (no data/tweets.js) stands
 * for the files in it, in sorted order, that format detection recognises:
 * .csv, .jsonl/.ndjson, .json (the Trump archive's condensed_*.json, or
 * JSON lines), .txt, X archive .zip files and folders, tweets.js, and
 * fortune files. The rest are skipped with a reason: hidden files,
 * folders inside the folder, binary files, zips that are not X archives,
 * files of no recognised format, and files the reader refuses (a CSV with
 * no text column). Folders are not descended into. */
#ifndef CHIRP_DATA_INPUT_FOLDER_H
#define CHIRP_DATA_INPUT_FOLDER_H

#include "data/post.h"

typedef struct InputList {
    char **paths; /* the files to read, in order */
    int count;
    char **skipped; /* "PATH: reason", one per skipped entry */
    int nskipped;
} InputList;

/* format is "auto" (or NULL) or a reader format; with a named format every
 * regular, non-hidden file of a folder is taken. Returns 0, or -1 with the
 * error set (an unreadable folder, or a folder with nothing to read). */
int input_list_expand(InputList *l, const char *const *inputs, int n, const char *format, const ReaderOptions *opt);
void input_list_free(InputList *l);

/* The format of a folder entry, or NULL with *why set (a static string). */
const char *input_folder_entry_format(const char *path, const char **why);

#endif
