/* Finding this machine among a graph's hosts (host_pick.h). An address matches when it is one of
 * the interfaces' addresses (getifaddrs), when it names this machine (gethostname, with or
 * without its domain), or when it resolves to one of the interfaces' addresses. Two hosts of one
 * graph on one machine (a test on 127.0.0.1 and 127.0.0.2) both match: then --host decides. */
#define _GNU_SOURCE
#include "host_pick.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/exit_status.h"
#include "graph/graph_hosts.h"

/* Whether `sa` is an address of one of this machine's interfaces. */
static bool local_address(const struct ifaddrs *ifs, const struct sockaddr *sa)
{
    for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        const struct sockaddr *a = i->ifa_addr;
        if (!a || a->sa_family != sa->sa_family)
            continue;
        if (a->sa_family == AF_INET && ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
                                           ((const struct sockaddr_in *)sa)->sin_addr.s_addr)
            return true;
        if (a->sa_family == AF_INET6 &&
            memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                   &((const struct sockaddr_in6 *)sa)->sin6_addr, sizeof(struct in6_addr)) == 0)
            return true;
    }
    return false;
}

/* Whether this machine answers at `address`. An IP literal is compared, never looked up. */
static bool is_this_machine(const struct ifaddrs *ifs, const char *address)
{
    char name[256] = "";
    if (gethostname(name, sizeof name - 1) == 0) {
        size_t short_len = strcspn(name, ".");
        if (strcasecmp(name, address) == 0 ||
            (strlen(address) == short_len && strncasecmp(name, address, short_len) == 0))
            return true;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (xmemi_host_address_family(address))
        hints.ai_flags = AI_NUMERICHOST;
    if (getaddrinfo(address, NULL, &hints, &res) != 0)
        return false;
    bool found = false;
    for (const struct addrinfo *r = res; r && !found; r = r->ai_next)
        found = local_address(ifs, r->ai_addr);
    freeaddrinfo(res);
    return found;
}

/* The one host this machine is; -1 with a message when none or several are. */
static int this_host(const xmemi_graph *g, const char *cmd)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        ifs = NULL;
    int found = -1, matches = 0;
    char list[768] = "";
    size_t used = 0;
    for (uint32_t i = 0; i < g->n_hosts; i++) {
        bool mine = is_this_machine(ifs, g->hosts[i].address);
        if (mine && matches++ == 0)
            found = (int)i;
        int n = snprintf(list + used, sizeof list - used, "\n  %s at %s%s", g->hosts[i].name,
                         g->hosts[i].address, mine ? " (this machine)" : "");
        used += n > 0 && (size_t)n < sizeof list - used ? (size_t)n : 0;
    }
    freeifaddrs(ifs);
    if (matches == 1)
        return found;
    fprintf(stderr, "%s: %s: %s of the graph's hosts is this machine: give --host NAME%s\n", cmd,
            g->path, matches ? "more than one" : "none", list);
    return -1;
}

int xmemi_cli_host_part(xmemi_graph *g, const char *host, const char *cmd)
{
    if (!g->n_hosts) {
        if (!host)
            return XMEMI_EXIT_OK;
        fprintf(stderr, "%s: --host %s: %s has no hosts: section (run it without --host)\n", cmd,
                host, g->path);
        return XMEMI_EXIT_USAGE;
    }
    if (!host) {
        int h = this_host(g, cmd);
        if (h < 0)
            return XMEMI_EXIT_USAGE;
        host = g->hosts[h].name;
    } else if (xmemi_graph_host_find(g, host) < 0) {
        char list[512];
        xmemi_graph_host_list(g, list, sizeof list);
        fprintf(stderr, "%s: --host %s: %s has no such host (hosts: %s)\n", cmd, host, g->path,
                list);
        return XMEMI_EXIT_USAGE;
    }
    xmem_error_t err;
    xmem_err rc = xmemi_graph_for_host(g, host, &err);
    if (rc)
        fprintf(stderr, "%s: %s\n", cmd, err.msg);
    return xmemi_exit_for(rc);
}
