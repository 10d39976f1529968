/* csv.c: streaming RFC 4180 CSV reader.
 *
 * The header row names the columns; options pick them by name. Quoted
 * fields may hold commas, "" for a quote, and bare LF or CRLF line breaks
 * (Tweet.csv ends records with CRLF but breaks lines inside text with LF).
 * A record longer than max_record is still parsed to its end (so the next
 * record starts in the right place) but not stored: it comes back
 * malformed. A list-valued reply-to cell such as "[1604565967375192064]"
 * (a Python list literal) yields its first element. */
#include "data/reader.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

enum { F_TEXT, F_ID, F_AUTHOR, F_HANDLE, F_TIME, F_REPLY, F_COUNT };

static const char *const default_names[F_COUNT][6] = {
    [F_TEXT] = {"text", "full_text", "content", "body", NULL},
    [F_ID] = {"tweet_id", "id_str", "id", "post_id", NULL},
    [F_AUTHOR] = {"author_id", "user_id", "author", NULL},
    [F_HANDLE] = {"username", "handle", "screen_name", NULL},
    [F_TIME] = {"created_at", "time", "timestamp", "date", NULL},
    [F_REPLY] = {"replied_to", "in_reply_to_status_id_str", "in_reply_to_status_id", "reply_to", NULL},
};
static const char *const role_flag[F_COUNT] = {"text-field",   "id-field",   "author-field",
                                               "handle-field", "time-field", "reply-to-field"};

typedef struct CsvReader {
    Reader base;
    Input in;
    Buf rec;        /* the fields of one record, each NUL-terminated */
    size_t *starts; /* field start offsets in rec */
    size_t nfields, cap_fields;
    int col[F_COUNT]; /* column index per role, -1 if absent */
    size_t ncols;
    long record;
    char msg[256];
    char reply[64];
} CsvReader;

/* Parses one record into r->rec/starts. Returns 1, 0 at EOF, -1 on I/O
 * error. Sets *bad to a message for a malformed record. */
static int parse_record(CsvReader *r, const char **bad) {
    Input *in = &r->in;
    r->rec.len = 0;
    r->nfields = 0;
    *bad = NULL;
    long start_line = in->line;
    int c = input_getc(in);
    if (c == EOF) return in->err ? -1 : 0;
    int too_big = 0, stray_quote = 0;
    for (;;) {
        /* Start a field. */
        if (r->nfields == r->cap_fields) {
            r->cap_fields = r->cap_fields ? 2 * r->cap_fields : 32;
            r->starts = xrealloc(r->starts, r->cap_fields * sizeof *r->starts);
        }
        r->starts[r->nfields++] = r->rec.len;
        if (c == '"') {
            for (;;) {
                c = input_getc(in);
                if (c == EOF) {
                    if (in->err) return -1;
                    snprintf(r->msg, sizeof r->msg, "unterminated quoted field (opened on line %ld)", start_line);
                    *bad = r->msg;
                    return 1;
                }
                if (c == '"') {
                    c = input_getc(in);
                    if (c != '"') break; /* closing quote */
                }
                if (r->rec.len < r->base.max_record) buf_putc(&r->rec, (char)c);
                else too_big = 1;
            }
            /* Bytes after a closing quote are not RFC 4180; keep them. */
            while (c != ',' && c != '\n' && c != EOF) {
                if (c != '\r') stray_quote = 1;
                if (c != '\r' && r->rec.len < r->base.max_record) buf_putc(&r->rec, (char)c);
                c = input_getc(in);
            }
        } else {
            while (c != ',' && c != '\n' && c != EOF) {
                if (r->rec.len < r->base.max_record) buf_putc(&r->rec, (char)c);
                else too_big = 1;
                c = input_getc(in);
            }
            /* CRLF: drop the CR that ends the record. */
            if (c != ',' && r->rec.len > r->starts[r->nfields - 1] && r->rec.data[r->rec.len - 1] == '\r') r->rec.len--;
        }
        buf_putc(&r->rec, '\0');
        if (c != ',') break;
        c = input_getc(in);
    }
    if (in->err) return -1;
    if (too_big) {
        snprintf(r->msg, sizeof r->msg, "record longer than %zu bytes", r->base.max_record);
        *bad = r->msg;
    } else if (stray_quote) {
        snprintf(r->msg, sizeof r->msg, "text after a closing quote");
        *bad = r->msg;
    }
    return 1;
}

static const char *field(CsvReader *r, int role) {
    int c = r->col[role];
    if (c < 0 || (size_t)c >= r->nfields) return NULL;
    const char *s = r->rec.data + r->starts[c];
    return s;
}

/* "[123]" or "['123', '456']" -> "123"; "[]" and "" -> NULL. */
static const char *list_first(CsvReader *r, const char *s) {
    if (!s || !*s) return NULL;
    if (s[0] != '[') return s;
    const char *p = s + 1;
    while (*p == ' ' || *p == '\'' || *p == '"') p++;
    size_t n = strcspn(p, ",]'\" ");
    if (n == 0) return NULL;
    if (n >= sizeof r->reply) n = sizeof r->reply - 1;
    memcpy(r->reply, p, n);
    r->reply[n] = '\0';
    return r->reply;
}

static int csv_next(Reader *base, Post *post) {
    CsvReader *r = (CsvReader *)base;
    for (;;) {
        const char *bad = NULL;
        long line = r->in.line;
        int rc = parse_record(r, &bad);
        if (rc <= 0) return rc;
        /* A blank line is no record. */
        if (!bad && r->nfields == 1 && r->rec.len == 1) continue;
        post->record = ++r->record;
        post->line = line;
        if (!bad && r->nfields != r->ncols) {
            snprintf(r->msg, sizeof r->msg, "record has %zu fields, the header has %zu", r->nfields, r->ncols);
            bad = r->msg;
        }
        if (bad) {
            post->error = bad;
            /* Still give the id when the record got that far: it helps the catalog. */
            if (r->nfields > (size_t)(r->col[F_ID] < 0 ? 0 : r->col[F_ID]) && r->nfields == r->ncols)
                post->id = field(r, F_ID);
            return 1;
        }
        const char *text = field(r, F_TEXT);
        post->text = text;
        post->text_len = strlen(text);
        post->id = field(r, F_ID);
        post->author = field(r, F_AUTHOR);
        post->handle = field(r, F_HANDLE);
        post->time = field(r, F_TIME);
        post->reply_to = list_first(r, field(r, F_REPLY));
        if (post->id && !*post->id) post->id = NULL;
        if (post->author && !*post->author) post->author = NULL;
        if (post->handle && !*post->handle) post->handle = NULL;
        if (post->time && !*post->time) post->time = NULL;
        return 1;
    }
}

static void csv_destroy(Reader *base) {
    CsvReader *r = (CsvReader *)base;
    input_close(&r->in);
    buf_free(&r->rec);
    free(r->starts);
    free(r);
}

Reader *csv_open(const char *path, const ReaderOptions *opt) {
    CsvReader *r = xcalloc(1, sizeof *r);
    r->base.next = csv_next;
    r->base.destroy = csv_destroy;
    r->base.format = "csv";
    r->base.path = xstrdup(path);
    r->base.max_record = opt->max_record ? opt->max_record : READER_DEFAULT_MAX_RECORD;
    if (input_open_file(&r->in, path) != 0) {
        reader_free(&r->base);
        return NULL;
    }
    const char *bad = NULL;
    int rc = parse_record(r, &bad);
    if (rc <= 0 || bad) {
        if (rc == 0) chirp_fail("%s: empty file (no header row)", path);
        else if (rc > 0) chirp_fail("%s: line 1: bad header row: %s", path, bad);
        reader_free(&r->base);
        return NULL;
    }
    r->ncols = r->nfields;
    /* Skip a UTF-8 byte order mark on the first column name. */
    if (r->rec.len >= 3 && memcmp(r->rec.data, "\xEF\xBB\xBF", 3) == 0) r->starts[0] += 3;
    const char *chosen[F_COUNT] = {opt->text_field,   opt->id_field,   opt->author_field,
                                   opt->handle_field, opt->time_field, opt->reply_to_field};
    for (int role = 0; role < F_COUNT; role++) {
        r->col[role] = -1;
        for (size_t k = 0; r->col[role] < 0 && k < 6; k++) {
            const char *want = chosen[role] ? (k == 0 ? chosen[role] : NULL) : default_names[role][k];
            if (!want) break;
            for (size_t i = 0; i < r->ncols; i++)
                if (strcmp(r->rec.data + r->starts[i], want) == 0) {
                    r->col[role] = (int)i;
                    break;
                }
        }
        /* A column the user named must exist; so must some text column. */
        if (r->col[role] < 0 && (chosen[role] || role == F_TEXT)) {
            chirp_fail("%s: line 1: no column '%s' (--%s); the header has %zu columns starting '%s'", path,
                       chosen[role] ? chosen[role] : "text", role_flag[role], r->ncols, r->rec.data);
            reader_free(&r->base);
            return NULL;
        }
    }
    return &r->base;
}
