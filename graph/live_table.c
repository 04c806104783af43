/* The live table of `xmem run` (live_table.h). The terminal is driven with the VT100 sequences
 * every terminal emulator has (scroll region, cursor save and restore); each redraw is one write,
 * so no other output lands in the middle of it. */
#define _GNU_SOURCE
#include "live_table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void xmemi_live_table_init(xmemi_live_table *t, FILE *out)
{
    const char *term = getenv("TERM");
    *t = (xmemi_live_table){.out = out};
    t->tty = isatty(fileno(out)) && term && *term && strcmp(term, "dumb") != 0;
}

static bool size_of(FILE *out, int *rows, int *cols)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0)
        return false;
    *rows = ws.ws_row;
    *cols = ws.ws_col ? ws.ws_col : 80;
    return true;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* Keeps the bottom `height` rows for the table: the rest scrolls; the cursor at its last row. */
static void set_region(FILE *f, int rows, int height, bool first)
{
    if (first)
        for (int i = 0; i < height; i++)
            fputc('\n', f); /* room, scrolling up what is on the screen */
    fprintf(f, "\x1b[1;%dr\x1b[%d;1H", rows - height, rows - height);
}

static void draw(xmemi_live_table *t, const char *text)
{
    int rows, cols, lines = count_lines(text);
    if (!size_of(t->out, &rows, &cols) || rows < lines + 4) {
        if (t->height) /* the terminal shrank under the table: back to plain lines */
            xmemi_live_table_end(t);
        fputs(text, t->out);
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    if (!t->height || lines > t->height || rows != t->rows) {
        set_region(f, rows, lines > t->height ? lines : t->height, !t->height);
        t->height = lines > t->height ? lines : t->height;
        t->rows = rows;
    }
    fputs("\x1b"
          "7",
          f);
    const char *line = text;
    for (int r = 0; r < t->height; r++) {
        fprintf(f, "\x1b[%d;1H\x1b[2K", rows - t->height + 1 + r);
        const char *end = line ? strchr(line, '\n') : NULL;
        if (end) {
            int n = (int)(end - line);
            fprintf(f, "%.*s", n < cols ? n : cols - 1, line);
            line = end + 1;
        } else
            line = NULL;
    }
    fputs("\x1b"
          "8",
          f);
    fclose(f);
    fflush(t->out);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fileno(t->out), buf + off, len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(buf);
}

void xmemi_live_table_show(xmemi_live_table *t, const xmemi_run_view *v, double interval_s)
{
    if (!t->tty) {
        xmemi_report_table(t->out, v, interval_s);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    xmemi_report_table(f, v, interval_s);
    fclose(f);
    draw(t, text);
    free(text);
}

void xmemi_live_table_end(xmemi_live_table *t)
{
    if (!t->tty || !t->height)
        return;
    int rows = t->rows, cols;
    size_of(t->out, &rows, &cols);
    /* The whole screen scrolls again; the cursor goes below the table, which stays in view. */
    fprintf(t->out, "\x1b[r\x1b[%d;1H\n", rows);
    fflush(t->out);
    t->height = 0;
}
