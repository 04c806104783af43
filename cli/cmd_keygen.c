/* `xmem keygen NAME`: a CURVE key pair for one host of a graph across hosts, as czmq certificate
 * files: NAME.key (public, for every host's copy of the graph) and NAME.key_secret (secret,
 * 0600, for that host only). The secret file is created under umask 077, so it is never readable
 * by others, not even between its creation and a chmod; nothing existing is overwritten without
 * --force. */
#define _GNU_SOURCE
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "common/exit_status.h"
#include "common/make_dirs.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xmem keygen [options] NAME\n"
            "\n"
            "Writes a CURVE key pair for one host of a graph across hosts (hosts: in the\n"
            "graph file, docs/MULTIHOST.md): NAME.key, the public certificate every host's\n"
            "graph names as that host's key:, and NAME.key_secret, the secret one, mode 0600,\n"
            "to be copied to that host only. Prints both paths and the public key.\n"
            "Existing files are left as they are (exit 1) unless --force.\n"
            "\n"
            "  -d, --dir DIR   write into DIR (default: NAME's own directory)\n"
            "  -f, --force     overwrite existing key files\n"
            "  -h, --help      this text\n");
}

/* Refuses to go on when either file is there, unless forced. */
static bool free_to_write(const char *pub, const char *secret, bool force)
{
    for (const char *p = pub; p; p = p == pub ? secret : NULL)
        if (!force && access(p, F_OK) == 0) {
            fprintf(stderr, "xmem keygen: %s exists (give --force to overwrite it)\n", p);
            return false;
        }
    return true;
}

/* Writes the pair under umask 077, then makes the public file readable by all and checks the
 * secret one is the owner's alone. */
static int write_pair(zcert_t *cert, const char *pub, const char *secret)
{
    mode_t old = umask(077);
    int rc = zcert_save(cert, pub);
    umask(old);
    struct stat st;
    if (rc != 0 || chmod(secret, 0600) != 0 || stat(secret, &st) != 0 || (st.st_mode & 077)) {
        fprintf(stderr, "xmem keygen: writing %s and %s: %s\n", pub, secret,
                errno ? strerror(errno) : "failed");
        return XMEMI_EXIT_FAILED;
    }
    if (chmod(pub, 0644 & ~old) != 0) {
        fprintf(stderr, "xmem keygen: %s: %s\n", pub, strerror(errno));
        return XMEMI_EXIT_FAILED;
    }
    return XMEMI_EXIT_OK;
}

int xmemi_cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"force", no_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL;
    bool force = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:fh", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'f')
            force = true;
        else if (c == 'h') {
            usage(stdout);
            return XMEMI_EXIT_OK;
        } else {
            usage(stderr);
            return XMEMI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !argv[optind][0]) {
        fprintf(stderr, "xmem keygen: give one NAME (see xmem keygen --help)\n");
        return XMEMI_EXIT_USAGE;
    }
    const char *name = argv[optind], *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char pub[4096], secret[4112];
    int n = dir ? snprintf(pub, sizeof pub, "%s/%s.key", dir, name)
                : snprintf(pub, sizeof pub, "%s.key", name);
    if (n < 0 || (size_t)n >= sizeof pub || !base[0]) {
        fprintf(stderr, "xmem keygen: '%s': not a file name\n", name);
        return XMEMI_EXIT_USAGE;
    }
    snprintf(secret, sizeof secret, "%s_secret", pub);
    if (!free_to_write(pub, secret, force))
        return XMEMI_EXIT_FAILED;
    xmem_error_t err;
    if (xmemi_make_parents(pub, 0755, &err)) { /* a fresh keys/ directory */
        fprintf(stderr, "xmem keygen: %s\n", err.msg);
        return XMEMI_EXIT_FAILED;
    }
    /* --force: the old files go first, so the new secret is written into a file made under the
     * umask below, never into an old one someone made readable. */
    if (force &&
        ((unlink(secret) != 0 && errno != ENOENT) || (unlink(pub) != 0 && errno != ENOENT))) {
        fprintf(stderr, "xmem keygen: removing the old %s: %s\n", secret, strerror(errno));
        return XMEMI_EXIT_FAILED;
    }
    /* czmq would otherwise take over SIGINT and SIGTERM, and log to the terminal. */
    zsys_handler_set(NULL);
    zcert_t *cert = zcert_new();
    if (!cert) {
        fprintf(stderr, "xmem keygen: no key pair made (libzmq without CURVE?)\n");
        return XMEMI_EXIT_FAILED;
    }
    char host[256] = "", created[64];
    gethostname(host, sizeof host - 1);
    time_t now = time(NULL);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    zcert_set_meta(cert, "name", "%s", base);
    zcert_set_meta(cert, "host", "%s", host);
    zcert_set_meta(cert, "created-by", "xmem keygen, %s", created);
    errno = 0;
    int status = write_pair(cert, pub, secret);
    if (status == XMEMI_EXIT_OK)
        printf("public key:  %s\nsecret key:  %s (mode 0600: copy it to this host only)\n"
               "public:      %s\n",
               pub, secret, zcert_public_txt(cert));
    zcert_destroy(&cert);
    return status;
}
