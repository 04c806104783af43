/* JSON text pieces (json_out.h): strings, and a bridge's link object. */
#include "json_out.h"

void xmemi_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void xmemi_json_link(FILE *f, const xmemi_link_stat *l, const double *bytes_per_s)
{
    if (!l) {
        fprintf(f, "null");
        return;
    }
    fprintf(f, "{\"state\": \"%s\", \"peer\": ", xmem_link_state_name((xmem_link_state)l->state));
    xmemi_json_string(f, l->peer);
    fprintf(f, ", \"frames\": %llu, \"bytes\": %llu, ", (unsigned long long)l->frames,
            (unsigned long long)l->bytes);
    if (bytes_per_s)
        fprintf(f, "\"bytes_per_s\": %.0f, ", *bytes_per_s);
    fprintf(f, "\"rtt_us\": %.1f, \"reconnects\": %llu, \"refused\": %llu, \"dropped\": {",
            (double)l->rtt_ns / 1e3, (unsigned long long)l->reconnects,
            (unsigned long long)l->refused);
    for (int i = 0; i < XMEM_LINK_DROP_COUNT_; i++)
        fprintf(f, "%s\"%s\": %llu", i ? ", " : "", xmem_link_drop_name((xmem_link_drop)i),
                (unsigned long long)l->dropped[i]);
    fprintf(f, "}}");
}
