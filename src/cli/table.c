/*
 * table.c - the default (human) output of `roost`: rows in aligned columns,
 * like `docker ps` or `kubectl get`. Widths count UTF-8 characters, not
 * bytes, so a thing name with accents does not shift its row. Cells are
 * sanitised: names come from the server, and a control character in a cell
 * must not become a terminal escape.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define COL_GAP 2

void cli__table_init(struct cli_table *t, size_t ncols, const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    t->headers = headers;
}

void cli__table_add(struct cli_table *t, const char *const *cells)
{
    if (t->nrows == t->cap_rows) {
        t->cap_rows = t->cap_rows ? t->cap_rows * 2 : 16;
        t->cells = roost_xrealloc(t->cells, t->cap_rows * t->ncols * sizeof(char *));
    }
    for (size_t c = 0; c < t->ncols; c++)
        t->cells[t->nrows * t->ncols + c] = roost_xstrdup(cells[c] ? cells[c] : "");
    t->nrows++;
}

void cli__table_kv(struct cli_table *t, const char *key, const char *value)
{
    cli__table_add(t, (const char *[]){key, value && value[0] ? value : "-"});
}

void cli__table_cleanup(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        roost_free(t->cells[i]);
    roost_free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* Display width: one per UTF-8 lead byte (continuation bytes are free). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            w++;
    return w;
}

static int append_cell(struct roost_buf *out, const char *s, size_t pad)
{
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        char c = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
        rc = roost_buf_append(out, &c, 1);
    }
    for (size_t i = 0; i < pad && !rc; i++)
        rc = roost_buf_append(out, " ", 1);
    return rc;
}

static const char *cell(const struct cli_table *t, size_t row, size_t col)
{
    /* Row "-1" is the header. */
    if (row == (size_t)-1)
        return t->headers[col] ? t->headers[col] : "";
    return t->cells[row * t->ncols + col];
}

int cli__table_render(const struct cli_table *t, struct roost_buf *out)
{
    int rc = 0;
    size_t *width = roost_xcalloc(t->ncols ? t->ncols : 1, sizeof(size_t));
    size_t first = t->headers ? (size_t)-1 : 0;

    for (size_t r = first; r != t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++)
            width[c] = ROOST_MAX(width[c], text_width(cell(t, r, c)));

    for (size_t r = first; r != t->nrows && !rc; r++) {
        /* Trailing empty cells would only leave trailing spaces. */
        size_t last = t->ncols;
        while (last > 1 && cell(t, r, last - 1)[0] == '\0')
            last--;
        for (size_t c = 0; c < last && !rc; c++) {
            const char *s = cell(t, r, c);
            size_t pad = c + 1 < last ? width[c] - text_width(s) + COL_GAP : 0;
            rc = append_cell(out, s, pad);
        }
        if (!rc)
            rc = roost_buf_append(out, "\n", 1);
    }
    roost_free(width);
    return rc;
}

void cli__table_print(const struct cli_table *t, FILE *f)
{
    struct roost_buf b;
    roost_buf_init(&b, 0);
    if (cli__table_render(t, &b) == 0 && roost_buf_size(&b))
        fwrite(roost_buf_head(&b), 1, roost_buf_size(&b), f);
    roost_buf_cleanup(&b);
}

void cli__time_format(const json_t *v, char out[32])
{
    out[0] = '\0';
    if (!json_is_number(v))
        return;
    double d = json_number_value(v);
    if (d < 0 || d > 253402300799.0) /* year 9999 */
        return;
    time_t t = (time_t)d;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
