/* The full screen of `xmem top` (top.h), with ncurses. A sample every interval; keys act at once
 * (getch waits at most 100 ms). The rows are top_text.c's, so --once prints the same. */
#define _GNU_SOURCE
#include <curses.h>
#include <locale.h>
#include <string.h>
#include <unistd.h>

#include <xmem/node.h>

#include "common/fail.h"
#include "graph/node_logs.h"
#include "top.h"

#define LOG_LINES 8

typedef struct screen {
    xmemi_obs *o;
    xmemi_top_sort sort;
    uint32_t selected; /* position in the sorted order */
    bool details, pool_pane;
    const char *note; /* shown on the keys line: the graph ended */
} screen;

static void line_at(int y, const char *text, int attr)
{
    if (y >= LINES)
        return;
    if (attr)
        attron(attr);
    mvaddnstr(y, 0, text, COLS);
    if (attr) {
        for (int x = (int)strlen(text); x < COLS; x++)
            mvaddch(y, x, ' ');
        attroff(attr);
    }
}

static int draw_pool(const screen *s, int y)
{
    char line[512];
    xmemi_top_class_header(line, sizeof line);
    line_at(y++, line, A_BOLD);
    for (uint32_t i = 0; i < s->o->n_classes; i++) {
        xmemi_top_class_row(line, sizeof line, s->o, &s->o->classes[i]);
        line_at(y++, line, 0);
    }
    y++;
    snprintf(line, sizeof line, "%-20s %8s %6s %7s", "ATTACHED", "PID", "REFS", "BUFFERS");
    line_at(y++, line, A_BOLD);
    for (uint32_t i = 0; i < s->o->n_holders; i++) {
        char who[64];
        xmemi_top_who(who, sizeof who, s->o, s->o->holders[i].pid);
        snprintf(line, sizeof line, "%-20s %8d %6llu %7u", who, (int)s->o->holders[i].pid,
                 (unsigned long long)s->o->holders[i].refs, s->o->holders[i].buffers);
        line_at(y++, line, 0);
    }
    return y;
}

static int draw_edges(const screen *s, int y, const char *node)
{
    char line[512];
    xmemi_top_edge_header(line, sizeof line);
    line_at(y++, line, A_BOLD);
    for (uint32_t i = 0; i < s->o->n_edges; i++) {
        const xmemi_obs_edge *e = &s->o->edges[i];
        if (node && strcmp(e->from, node) != 0 && strcmp(e->to, node) != 0)
            continue;
        xmemi_top_edge_row(line, sizeof line, e);
        line_at(y++, line, 0);
    }
    bool header = false;
    for (uint32_t i = 0; i < s->o->n_nodes; i++) {
        const xmemi_obs_node *n = &s->o->nodes[i];
        if ((node && strcmp(n->run->name, node) != 0) || !xmemi_top_link_row(line, sizeof line, n))
            continue;
        if (!header) {
            char head[512];
            xmemi_top_link_header(head, sizeof head);
            line_at(y++, "", 0);
            line_at(y++, head, A_BOLD);
            header = true;
        }
        line_at(y++, line, 0);
    }
    return y;
}

static int draw_log(const screen *s, int y, const char *node)
{
    char title[128], text[8192];
    snprintf(title, sizeof title, "LAST LINES OF %s (xmem logs %s %s)", node, s->o->pool_name,
             node);
    line_at(y++, title, A_BOLD);
    xmemi_node_log_tail(s->o->dir, node, LOG_LINES, text, sizeof text);
    char *save = NULL;
    for (char *row = strtok_r(text, "\n", &save); row && y < LINES;
         row = strtok_r(NULL, "\n", &save))
        line_at(y++, row, 0);
    return y;
}

static void draw(const screen *s)
{
    erase();
    char line[512];
    xmemi_top_title(line, sizeof line, s->o);
    line_at(0, line, A_REVERSE);
    snprintf(line, sizeof line, "q quit  up/down pick  enter %s  s sort: %s  p %s%s%s",
             s->details ? "all edges" : "node", xmemi_top_sort_name(s->sort),
             s->pool_pane ? "edges" : "pool", s->note ? "    " : "", s->note ? s->note : "");
    line_at(1, line, 0);
    int y = 3;
    const char *picked = NULL;
    if (s->o->graph) {
        uint32_t order[XMEMI_GRAPH_MAX_NODES];
        xmemi_top_order(s->o, s->sort, order);
        xmemi_top_node_header(line, sizeof line);
        line_at(y++, line, A_BOLD);
        for (uint32_t i = 0; i < s->o->n_nodes; i++) {
            xmemi_top_node_row(line, sizeof line, &s->o->nodes[order[i]]);
            line_at(y++, line, i == s->selected ? A_REVERSE : 0);
        }
        if (s->o->n_nodes)
            picked = s->o->nodes[order[s->selected < s->o->n_nodes ? s->selected : 0]].run->name;
        y++;
    }
    if (!s->o->graph || s->pool_pane)
        draw_pool(s, y);
    else if (s->details && picked)
        draw_log(s, draw_edges(s, y, picked) + 1, picked);
    else
        draw_edges(s, y, NULL);
    refresh();
}

/* Acts on a key; false to quit. */
static bool key(screen *s, int ch)
{
    switch (ch) {
    case 'q':
    case 'Q': return false;
    case KEY_UP:
    case 'k':
        if (s->selected > 0)
            s->selected--;
        break;
    case KEY_DOWN:
    case 'j':
        if (s->selected + 1 < s->o->n_nodes)
            s->selected++;
        break;
    case '\n':
    case KEY_ENTER:
    case 'd': s->details = !s->details; break;
    case 's': s->sort = (xmemi_top_sort)((s->sort + 1) % XMEMI_SORT_COUNT_); break;
    case 'p': s->pool_pane = !s->pool_pane; break;
    default: break;
    }
    return true;
}

bool xmemi_top_screen_built(void)
{
    return true;
}

xmem_err xmemi_top_screen(xmemi_obs *o, double interval_s, xmemi_top_sort sort, xmem_error_t *err)
{
    screen s = {.o = o, .sort = sort};
    xmem_err rc = xmemi_obs_sample(o, err);
    if (rc)
        return rc;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "the full screen needs a terminal: --once prints one sample");
    setlocale(LC_ALL, "");
    initscr(); /* it exits, saying why, when the terminal cannot be driven */
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    timeout(100);
    uint64_t next = xmem_node_clock_ns(); /* the first full sample: one interval on */
    bool running = true;
    draw(&s);
    next += (uint64_t)(interval_s * 1e9);
    while (running) {
        int ch = getch();
        if (ch != ERR) {
            running = key(&s, ch);
            draw(&s);
            continue;
        }
        if (xmem_node_clock_ns() < next || s.note)
            continue;
        next += (uint64_t)(interval_s * 1e9);
        xmem_error_t why;
        if (xmemi_obs_sample(o, &why))
            s.note = "THE GRAPH ENDED (q quits)";
        else if (o->graph && !o->alive)
            s.note = "THE LAUNCHER IS GONE (q quits)";
        draw(&s);
    }
    endwin();
    return XMEM_OK;
}
