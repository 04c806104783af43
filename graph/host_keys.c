/* A host's key files (graph_hosts.h): the public certificate every host reads to know its peers,
 * and the secret one only its own host reads. Both are czmq certificate files (xmem keygen,
 * zcert_save): ZPL text with curve/public-key and, in the secret one, curve/secret-key, each 40
 * characters of Z85. They are read here with libzmq's Z85 decoder alone, so a build without czmq
 * checks them alike. */
#include "graph_hosts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* The next line of a text, NULL after its last. */
static const char *next_line(const char *line)
{
    const char *nl = strchr(line, '\n');
    return nl && nl[1] ? nl + 1 : NULL;
}

/* The value of `entry` ("public-key") in the curve section of a certificate's text. czmq's
 * own reader (zconfig_load, under zcert_load) prints its complaints about a malformed file to
 * stderr, from any process and on any terminal: the lines czmq writes are read here instead.
 * ZPL: a section name at the line's start, its entries indented below it, "name = value" with
 * the value quoted or not. */
static bool curve_entry(const char *text, const char *entry, char out[41])
{
    bool in_curve = false;
    size_t name = strlen(entry);
    for (const char *line = text; line; line = next_line(line)) {
        size_t len = strcspn(line, "\r\n"), indent = strspn(line, " ");
        if (indent >= len || line[indent] == '#')
            continue;
        if (indent == 0) {
            in_curve = len == 5 && strncmp(line, "curve", 5) == 0;
            continue;
        }
        const char *v = line + indent;
        if (!in_curve || strncmp(v, entry, name) || (v[name] != ' ' && v[name] != '='))
            continue;
        v += name + strspn(v + name, " ");
        if (*v++ != '=')
            return false;
        v += strspn(v, " ");
        bool quoted = *v == '"';
        v += quoted;
        if (strcspn(v, "\"\r\n ") != 40 || (quoted && v[40] != '"'))
            return false;
        memcpy(out, v, 40);
        out[40] = '\0';
        return true;
    }
    return false;
}

/* Whether the certificate file at `path` holds a Z85 CURVE key at curve/`entry`. */
static bool cert_has(const char *path, const char *entry)
{
    char text[16384];
    char key[41];
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    uint8_t bytes[32];
    return curve_entry(text, entry, key) && zmq_z85_decode(bytes, key) != NULL;
}

/* The file is there and this process can read it: what is wrong, or NULL. */
static const char *unreadable(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return strerror(errno);
    int rc = fstat(fd, st);
    close(fd);
    if (rc != 0)
        return strerror(errno);
    return S_ISREG(st->st_mode) ? NULL : "not a regular file";
}

xmem_err xmemi_host_key_check_public(const xmemi_graph *g, const xmemi_graph_host *h,
                                     xmem_error_t *err)
{
    struct stat st;
    const char *why = unreadable(h->key, &st);
    if (why)
        return xmemi_graph_fail(g, err, h->key_at,
                                "host '%s': key %s: %s (xmem keygen makes a key pair)", h->name,
                                h->key, why);
    if (!cert_has(h->key, "public-key"))
        return xmemi_graph_fail(g, err, h->key_at,
                                "host '%s': key %s is not a public certificate (a czmq "
                                "certificate file with curve/public-key, as xmem keygen writes)",
                                h->name, h->key);
    return XMEM_OK;
}

xmem_err xmemi_host_key_check_secret(const xmemi_graph *g, const xmemi_graph_host *h,
                                     xmem_error_t *err)
{
    char secret[4096];
    if ((size_t)snprintf(secret, sizeof secret, "%s_secret", h->key) >= sizeof secret)
        return xmemi_graph_fail(g, err, h->key_at, "host '%s': key path too long", h->name);
    struct stat st;
    const char *why = unreadable(secret, &st);
    if (why)
        return xmemi_graph_fail(g, err, h->key_at,
                                "host '%s': secret key %s: %s (it lives only on host '%s', made "
                                "with its public half by xmem keygen)",
                                h->name, secret, why, h->name);
    if (st.st_mode & 077)
        return xmemi_graph_fail(g, err, h->key_at,
                                "host '%s': secret key %s is readable by others (mode %04o): "
                                "chmod 600 %s",
                                h->name, secret, (unsigned)(st.st_mode & 07777), secret);
    if (!cert_has(secret, "secret-key"))
        return xmemi_graph_fail(g, err, h->key_at,
                                "host '%s': %s is not a secret certificate (a czmq certificate "
                                "file with curve/secret-key, as xmem keygen writes)",
                                h->name, secret);
    return XMEM_OK;
}
