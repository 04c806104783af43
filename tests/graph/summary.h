/* Reading `xmem run --summary`'s JSON (JSON is YAML) in the graph tests: a number or a string at
 * a path such as "/nodes/1/in", failing the test when it is not there. */
#ifndef XMEM_TESTS_GRAPH_SUMMARY_H
#define XMEM_TESTS_GRAPH_SUMMARY_H

#include <criterion/criterion.h>
#include <libfyaml.h>
#include <stdlib.h>

static inline long summary_num(struct fy_document *doc, const char *path)
{
    struct fy_node *n = fy_node_by_path(fy_document_root(doc), path, FY_NT, FYNWF_DONT_FOLLOW);
    cr_assert(n != NULL, "no %s in the summary", path);
    return strtol(fy_node_get_scalar0(n), NULL, 10);
}

static inline const char *summary_str(struct fy_document *doc, const char *path)
{
    struct fy_node *n = fy_node_by_path(fy_document_root(doc), path, FY_NT, FYNWF_DONT_FOLLOW);
    cr_assert(n != NULL, "no %s in the summary", path);
    return fy_node_get_scalar0(n);
}

#endif
