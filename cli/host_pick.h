/* Which host of a graph across hosts this machine is (`xmem run` and `xmem validate` without
 * --host), and the part of the graph that host runs. */
#ifndef XMEM_CLI_HOST_PICK_H
#define XMEM_CLI_HOST_PICK_H

#include "graph/graph.h"

/* Rewrites a parsed graph into one host's part (graph/graph_hosts.h): `host` when given, else the
 * one host whose address is an address of this machine (its interfaces, its host name, or a name
 * resolving to one of its addresses). Returns an exit status: OK, USAGE (--host without hosts:,
 * or no single host matches: the message lists the hosts and asks for --host NAME), or that of
 * the plan's error. Messages start with `cmd` ("xmem run"). */
int xmemi_cli_host_part(xmemi_graph *g, const char *host, const char *cmd);

#endif
