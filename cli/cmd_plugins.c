/* `xmem plugins`: what nodes there are (built-ins, XMEM_PLUGIN_PATH, files named), with their
 * parameters and ports, as a plugin author or a graph writer needs them. */
#define _GNU_SOURCE
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/builtin/builtins.h"
#include "commands.h"
#include "common/exit_status.h"
#include "nodes/node_internal.h"
#include "nodes/plugin_loader.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: xmem plugins [-v] [NAME|PATH|DIR ...]\n"
                 "\n"
                 "Without arguments, lists the built-in nodes and every plugin (*.so, and node\n"
                 "files *.py) in the directories of XMEM_PLUGIN_PATH, one line each. With\n"
                 "arguments, describes each plugin named (a built-in, a name in XMEM_PLUGIN_PATH,\n"
                 "a .so or .py file; a directory lists its plugins): parameters with type,\n"
                 "default, range and help, and ports. A plugin that would be refused is shown\n"
                 "with the reason; the exit status is 3 if one that was named explicitly is (2\n"
                 "on bad usage).\n"
                 "\n"
                 "  -v, --verbose   describe every plugin listed, not just name and origin\n"
                 "  -h, --help      this text\n");
}

static void describe(const xmemi_plugin *p, bool verbose)
{
    const xmem_node_plugin *d = &p->desc;
    printf("%-14s %-8s %s\n", d->name, d->version, xmemi_plugin_origin(p));
    if (!verbose)
        return;
    if (*d->description)
        printf("  %s\n", d->description);
    if (d->flags & XMEM_NODE_USES_CUDA)
        printf("  works on CUDA buffers (a graph gives its pool some: pool.cuda)\n");
    printf("  kind: %s\n", !d->n_inputs   ? "source (tick, at --rate)"
                           : d->n_outputs ? "filter (process, per input buffer)"
                                          : "sink (process, per input buffer)");
    for (uint32_t i = 0; i < d->n_inputs; i++)
        printf("  input  %-14s %s\n", d->inputs[i].name,
               d->inputs[i].help ? d->inputs[i].help : "");
    for (uint32_t i = 0; i < d->n_outputs; i++)
        printf("  output %-14s %s\n", d->outputs[i].name,
               d->outputs[i].help ? d->outputs[i].help : "");
    for (uint32_t i = 0; i < d->n_params; i++) {
        const xmem_node_param *q = &d->params[i];
        char accepts[256];
        xmemi_param_describe(q, accepts, sizeof accepts);
        printf("  param  %-14s %s, %s%s\n", q->name, accepts,
               q->default_value ? "default " : "required",
               q->default_value ? q->default_value : "");
        if (q->help)
            printf("         %-14s %s\n", "", q->help);
    }
    printf("\n");
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Lists the plugins of one directory; a refused file is reported, not fatal. */
static void scan_dir(const char *dir, bool verbose)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "xmem plugins: cannot read directory %s\n", dir);
        return;
    }
    struct dirent **names;
    closedir(d);
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        if (has_suffix(names[i]->d_name, ".so") || xmemi_plugin_is_python(names[i]->d_name)) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            xmemi_plugin p;
            xmem_error_t err;
            if (xmemi_plugin_open_file(path, &p, &err) == XMEM_OK) {
                describe(&p, verbose);
                xmemi_plugin_close(&p);
            } else
                fprintf(stderr, "xmem plugins: %s\n", err.msg);
        }
        free(names[i]);
    }
    if (n > 0)
        free(names);
}

int xmemi_cmd_plugins(int argc, char **argv)
{
    static const struct option opts[] = {
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bool verbose = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        if (c == 'v')
            verbose = true;
        else if (c == 'h') {
            usage(stdout);
            return XMEMI_EXIT_OK;
        } else {
            usage(stderr);
            return XMEMI_EXIT_USAGE;
        }
    }
    if (optind == argc) {
        uint32_t n;
        const xmem_node_plugin *const *all = xmemi_builtins(&n);
        for (uint32_t i = 0; i < n; i++) {
            xmemi_plugin p = {0};
            xmem_error_t err;
            if (xmemi_plugin_load(all[i]->name, &p, &err) == XMEM_OK)
                describe(&p, verbose);
            else
                fprintf(stderr, "xmem plugins: %s\n", err.msg);
        }
        const char *search = getenv("XMEM_PLUGIN_PATH");
        char *dirs = search ? strdup(search) : NULL;
        char *save = NULL;
        for (char *dir = dirs ? strtok_r(dirs, ":", &save) : NULL; dir;
             dir = strtok_r(NULL, ":", &save))
            scan_dir(dir, verbose);
        free(dirs);
        return XMEMI_EXIT_OK;
    }
    int status = XMEMI_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (d) {
            closedir(d);
            scan_dir(argv[i], true);
            continue;
        }
        xmemi_plugin p;
        xmem_error_t err;
        if (xmemi_plugin_load(argv[i], &p, &err) != XMEM_OK) {
            fprintf(stderr, "xmem plugins: %s\n", err.msg);
            status = err.code == XMEM_ENOMEM ? XMEMI_EXIT_FAILED : XMEMI_EXIT_INVALID;
            continue;
        }
        describe(&p, true);
        xmemi_plugin_close(&p);
    }
    return status;
}
