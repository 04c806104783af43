/* A user as an error message names it: "alice (uid 1001)", or "uid 1001" when the password
 * database has no name for it. Used where something the user wanted is taken by someone else. */
#ifndef XMEM_COMMON_USER_NAME_H
#define XMEM_COMMON_USER_NAME_H

#include <pwd.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct xmemi_user_text {
    char s[96];
} xmemi_user_text;

static inline xmemi_user_text xmemi_user_name(uid_t uid)
{
    xmemi_user_text t;
    struct passwd pw, *found = NULL;
    char buf[1024];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found && found->pw_name)
        snprintf(t.s, sizeof t.s, "%.60s (uid %u)", found->pw_name, (unsigned)uid);
    else
        snprintf(t.s, sizeof t.s, "uid %u", (unsigned)uid);
    return t;
}

#endif
