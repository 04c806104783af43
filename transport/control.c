/* Control messages' wire form (layout in control.h). */
#include "control.h"

#include "wire.h"

void xmemi_control_encode(const xmemi_control *c, uint8_t out[XMEMI_CONTROL_SIZE])
{
    xmemi_put32(out + 0, XMEMI_CONTROL_MAGIC);
    xmemi_put16(out + 4, XMEMI_CONTROL_VERSION);
    xmemi_put16(out + 6, c->type);
    xmemi_put64(out + 8, c->pool_id);
    xmemi_put32(out + 16, c->owner);
    xmemi_put32(out + 20, c->pid);
    xmemi_put32(out + 24, c->depth);
    xmemi_put16(out + 28, c->policy);
    xmemi_put16(out + 30, 0);
    xmemi_put32(out + 32, c->home);
    xmemi_put32(out + 36, (uint32_t)c->block_timeout_ms);
    xmemi_put32(out + 40, xmemi_fnv32(out, 40));
}

bool xmemi_control_decode(const void *buf, size_t len, xmemi_control *out)
{
    const uint8_t *p = buf;
    if (len != XMEMI_CONTROL_SIZE || xmemi_get32(p) != XMEMI_CONTROL_MAGIC ||
        xmemi_get16(p + 4) != XMEMI_CONTROL_VERSION || xmemi_get32(p + 40) != xmemi_fnv32(p, 40))
        return false;
    out->type = xmemi_get16(p + 6);
    out->pool_id = xmemi_get64(p + 8);
    out->owner = xmemi_get32(p + 16);
    out->pid = xmemi_get32(p + 20);
    out->depth = xmemi_get32(p + 24);
    out->policy = xmemi_get16(p + 28);
    out->home = xmemi_get32(p + 32);
    out->block_timeout_ms = (int32_t)xmemi_get32(p + 36);
    return out->type == XMEMI_SUBSCRIBE || out->type == XMEMI_UNSUBSCRIBE;
}

void xmemi_welcome_encode(const xmemi_welcome *w, uint8_t out[XMEMI_WELCOME_SIZE])
{
    xmemi_put32(out + 0, XMEMI_WELCOME_MAGIC);
    xmemi_put16(out + 4, XMEMI_CONTROL_VERSION);
    xmemi_put16(out + 6, w->kind);
    xmemi_put64(out + 8, w->instance);
    xmemi_put32(out + 16, w->pid);
    xmemi_put32(out + 20, w->inbox);
    xmemi_put32(out + 24, xmemi_fnv32(out, 24));
}

bool xmemi_welcome_decode(const void *buf, size_t len, xmemi_welcome *out)
{
    const uint8_t *p = buf;
    if (len != XMEMI_WELCOME_SIZE || xmemi_get32(p) != XMEMI_WELCOME_MAGIC ||
        xmemi_get16(p + 4) != XMEMI_CONTROL_VERSION || xmemi_get32(p + 24) != xmemi_fnv32(p, 24))
        return false;
    out->kind = xmemi_get16(p + 6);
    out->instance = xmemi_get64(p + 8);
    out->pid = xmemi_get32(p + 16);
    out->inbox = xmemi_get32(p + 20);
    return out->kind == XMEMI_WELCOME || out->kind == XMEMI_END;
}
