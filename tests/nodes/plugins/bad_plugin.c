/* A plugin the loader must refuse, in one of several ways: tests/nodes/CMakeLists.txt builds this
 * file once per compile definition (BAD_MAGIC, NEWER_ABI, ...), and test_plugin_abi.c expects each
 * build refused with its own reason. The descriptor is written out by hand because
 * XMEM_NODE_DEFINE always fills the ABI fields correctly. */
#include <stddef.h>

#include <xmem/node.h>

#if defined(UNRESOLVED)
/* Defined nowhere: dlopen(RTLD_NOW) cannot bind it, so the library does not load at all. */
extern void xmemt_defined_nowhere(void);
#endif

__attribute__((unused)) static xmem_err tick(xmem_node_t *node, void *state, xmem_error_t *err)
{
    (void)state;
    (void)err;
#if defined(UNRESOLVED)
    xmemt_defined_nowhere();
#endif
    xmem_node_finish(node);
    return XMEM_OK;
}

__attribute__((unused)) static xmem_err process(xmem_node_t *node, void *state, const char *port,
                                                xmem_guard_t *input, xmem_error_t *err)
{
    (void)node;
    (void)state;
    (void)port;
    (void)input;
    (void)err;
    return XMEM_OK;
}

static const xmem_node_port outputs[] = {{"out", "nothing"}};

/* What every build declares, unless its definition changes one field. */
#define MAGIC XMEM_NODE_ABI_MAGIC
#define ABI_VERSION XMEM_NODE_ABI_VERSION
#define SIZE sizeof(xmem_node_plugin)
#define NAME "bad"
#define PARAMS NULL
#define N_PARAMS 0
#define INPUTS NULL
#define N_INPUTS 0
#define PROCESS process
#define TICK tick

#if defined(BAD_MAGIC)
#undef MAGIC
#define MAGIC 0x12345678u
#elif defined(NEWER_ABI)
#undef ABI_VERSION
#define ABI_VERSION (XMEM_NODE_ABI_VERSION + 1)
#elif defined(OLDER_ABI)
/* Built for the first ABI, whose guards were 40 bytes: the host must not run it. */
#undef ABI_VERSION
#define ABI_VERSION (XMEM_NODE_ABI_VERSION_MIN - 1)
#elif defined(SMALL_SIZE)
/* A descriptor that claims to end before fini, the last field of ABI version 1. */
#undef SIZE
#define SIZE offsetof(xmem_node_plugin, fini)
#elif defined(NO_PROCESS)
static const xmem_node_port inputs[] = {{"in", "frames"}};
#undef INPUTS
#undef N_INPUTS
#undef PROCESS
#define INPUTS inputs
#define N_INPUTS 1
#define PROCESS NULL
#elif defined(NO_TICK)
#undef TICK
#define TICK NULL
#elif defined(BAD_DEFAULT)
static const xmem_node_param params[] = {
    {"count", XMEM_PARAM_INT, "abc", "an int whose default is no int", 0, 0, NULL},
};
#undef PARAMS
#undef N_PARAMS
#define PARAMS params
#define N_PARAMS 1
#elif defined(DUP_PORT)
static const xmem_node_port inputs[] = {{"in", "frames"}, {"in", "the same name again"}};
#undef INPUTS
#undef N_INPUTS
#define INPUTS inputs
#define N_INPUTS 2
#elif defined(BAD_NAME)
#undef NAME
#define NAME "Bad-Name"
#elif !defined(NO_SYMBOL) && !defined(UNRESOLVED)
#error                                                                                             \
    "define one of BAD_MAGIC NEWER_ABI SMALL_SIZE NO_SYMBOL UNRESOLVED NO_PROCESS NO_TICK BAD_DEFAULT DUP_PORT BAD_NAME"
#endif

#if defined(NO_SYMBOL)
/* Something exported, but no descriptor. */
XMEM_NODE_EXPORT_SYMBOL const xmem_node_plugin xmem_node_descriptor_misspelt = {
    .magic = MAGIC,
    .abi_version = ABI_VERSION,
    .size = SIZE,
    .name = NAME,
    .outputs = outputs,
    .n_outputs = 1,
    .tick = TICK,
};
#else
XMEM_NODE_EXPORT_SYMBOL const xmem_node_plugin xmem_node_descriptor = {
    .magic = MAGIC,
    .abi_version = ABI_VERSION,
    .size = SIZE,
    .name = NAME,
    .version = "0",
    .description = "refused by the loader",
    .params = PARAMS,
    .n_params = N_PARAMS,
    .inputs = INPUTS,
    .n_inputs = N_INPUTS,
    .outputs = outputs,
    .n_outputs = 1,
    .process = PROCESS,
    .tick = TICK,
};
#endif
