/* The `xmem` command: one program, one subcommand per job (git-style). */
#include <stdio.h>
#include <string.h>

#include <xmem/version.h>

#include "commands.h"
#include "common/exit_status.h"
#include "frame_save.h"
#include "graph/metrics.h"
#include "top.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} commands[] = {
    {"run", xmemi_cmd_run, "run a pipeline graph: pool, one process per node, live statistics"},
    {"validate", xmemi_cmd_validate, "check a graph file without running it"},
    {"chaos", xmemi_cmd_chaos, "run a graph while killing random consumers; check it survives"},
    {"node", xmemi_cmd_node, "run one node plugin in this process"},
    {"plugins", xmemi_cmd_plugins, "list node plugins with their parameters and ports"},
    {"pool", xmemi_cmd_pool, "create a pool and keep it until Ctrl-C, showing its use"},
    {"ps", xmemi_cmd_ps, "list the graphs running for this user"},
    {"top", xmemi_cmd_top, "watch a running graph (or a pool): nodes, edges, buffers"},
    {"tap", xmemi_cmd_tap, "join a running graph as a consumer of one output: print, save frames"},
    {"logs", xmemi_cmd_logs, "print what a node of a running graph wrote"},
    {"keygen", xmemi_cmd_keygen, "write a CURVE key pair for a host of a graph across hosts"},
};

#ifdef XMEM_SANITIZE
/* LeakSanitizer's built-in suppressions for this program: what the embedded Python interpreter
 * (nodes/python/host.c) keeps until exit is its own, never freed by design and partly linked
 * where LeakSanitizer cannot follow (the GC's lists). The only suppression; docs/PYTHON.md. */
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libpython3\n";
}

/* ... and without the table of what was suppressed at every exit. */
__attribute__((visibility("default"))) const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}
#endif

static void usage(FILE *out)
{
    fprintf(out, "usage: xmem COMMAND [options]   (xmem COMMAND --help for its options)\n"
                 "\n"
                 "Zero-copy multi-process frame and tensor pipelines.\n"
                 "\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n"
                 "Environment:\n"
                 "  XMEM_PLUGIN_PATH  ':'-separated directories searched for plugins: a plugin\n"
                 "                    NAME is the file NAME.so, libNAME.so or NAME.py (a Python\n"
                 "                    node file), or else the one plugin there that declares\n"
                 "                    NAME (as `xmem plugins` lists)\n"
                 "  XMEM_RUNTIME_DIR  where `xmem run` makes each graph's private directory\n"
                 "                    (default /tmp/xmem-UID; created 0700 when missing)\n"
                 "\n"
                 "Exit status, for every command:\n"
                 "  0  done: the run ended well, the graph is valid, every check held\n"
                 "  1  it ran and something failed: a node failed for good, a buffer stayed held,\n"
                 "     a check did not hold, the pool or a socket failed (/dev/shm without\n"
                 "     room for the pool), it was interrupted (chaos)\n"
                 "  2  the command line is wrong: unknown command or option, an argument missing\n"
                 "     or extra, a value not of its form or range\n"
                 "  3  what it was given is wrong: a graph that does not validate or cannot be\n"
                 "     read, a plugin that is refused, a port or parameter its node lacks\n"
                 "\n"
                 "  -h, --help        this text\n"
                 "  -V, --version     print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return XMEMI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return XMEMI_EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        /* What this build can do beyond the core, for scripts and tests (xmem top's screen,
         * PNG frames of xmem tap, the metrics endpoint of xmem run). */
        printf("xmem %s (%s top-screen, %s png, %s metrics)\n", XMEM_VERSION_STRING,
               xmemi_top_screen_built() ? "with" : "without",
               xmemi_frame_png_built() ? "with" : "without",
               xmemi_metrics_built() ? "with" : "without");
        return XMEMI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "xmem: unknown command '%s' (see xmem --help)\n", cmd);
    return XMEMI_EXIT_USAGE;
}
