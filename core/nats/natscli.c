/*
 * natscli.c -- see nats.h (natscli): the NATS options of the command-line
 * tools, as the `nats` CLI has them, and the cnats options of a cfg_nats
 * (servers, auth, TLS) that natsconn.c and jetway-orders-load share.
 *
 * Depends on cnats and nkey.c only (the example's load tool links just
 * these two objects): no logging, no allocation.
 */
#include "nats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nkey_int.h"

#define NATSCLI_DEFAULT_URL "nats://127.0.0.1:4222"

int
natscli_option(natscli *o, int opt, const char *arg)
{
    const char **slot = NULL;
    switch (opt) {
    case 's':
        slot = &o->url;
        break;
    case NATSCLI_OPT_BASE + 0:
        slot = &o->user;
        break;
    case NATSCLI_OPT_BASE + 1:
        slot = &o->password;
        break;
    case NATSCLI_OPT_BASE + 2:
        slot = &o->creds;
        break;
    case NATSCLI_OPT_BASE + 3:
        slot = &o->nkey;
        break;
    case NATSCLI_OPT_BASE + 4:
        slot = &o->tlscert;
        break;
    case NATSCLI_OPT_BASE + 5:
        slot = &o->tlskey;
        break;
    case NATSCLI_OPT_BASE + 6:
        slot = &o->tlsca;
        break;
    default:
        return 0;
    }
    *slot = arg;
    return 1;
}

static const char *
env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The cfg_nats fields hold char *; the strings are borrowed, never freed. */
static void
take(char **field, const char *v)
{
    if (v)
        *field = (char *)v;
}

static int
has_auth(const cfg_nats *c)
{
    return c->user || c->token || c->nkey_seed_file || c->creds_file;
}

void
natscli_apply(const natscli *o, cfg_nats *c, int has_config, char **slot)
{
    if (!has_config) {
        memset(c, 0, sizeof(*c));
        c->name = (char *)"jetway-cli";
        c->connect_timeout_ms = 2000;
        c->reconnect_wait_ms = 250;
        c->reconnect_wait_max_ms = 2000;
        c->request_timeout_ms = 5000;
    }
    /* Servers: the flag, else the config's, else $NATS_URL, else the default. */
    const char *url = o->url && *o->url ? o->url : NULL;
    if (!url && (!has_config || c->nservers == 0))
        url = env("NATS_URL");
    if (!url && c->nservers == 0)
        url = NATSCLI_DEFAULT_URL;
    if (url) {
        *slot = (char *)url;
        c->servers = slot;
        c->nservers = 1;
    }
    /* Authentication is one choice: flags replace the config's method. */
    if (o->user || o->creds || o->nkey) {
        c->user = c->password = c->token = c->nkey_seed_file = c->creds_file = NULL;
        take(&c->user, o->user);
        take(&c->password, o->password);
        take(&c->creds_file, o->creds);
        take(&c->nkey_seed_file, o->nkey);
    } else if (o->password && c->user) {
        c->password = (char *)o->password;
    } else if (!has_auth(c)) {
        /* The environment's, only where nothing else chose one. */
        if (env("NATS_CREDS"))
            take(&c->creds_file, env("NATS_CREDS"));
        else if (env("NATS_NKEY"))
            take(&c->nkey_seed_file, env("NATS_NKEY"));
        else if (env("NATS_USER")) {
            take(&c->user, env("NATS_USER"));
            take(&c->password, o->password ? o->password : env("NATS_PASSWORD"));
        }
    }
    /* TLS field by field: flag, config, environment. */
    take(&c->tls_cert, o->tlscert ? o->tlscert : c->tls_cert ? NULL : env("NATS_CERT"));
    take(&c->tls_key, o->tlskey ? o->tlskey : c->tls_key ? NULL : env("NATS_KEY"));
    take(&c->tls_ca, o->tlsca ? o->tlsca : c->tls_ca ? NULL : env("NATS_CA"));
}

static const char *
errtext(natsStatus s)
{
    const char *e = nats_GetLastError(NULL);
    return e && *e ? e : natsStatus_GetText(s);
}

static int
set_auth(natsOptions *opts, const cfg_nats *cfg, char *err, size_t errlen)
{
    natsStatus s = NATS_OK;
    if (cfg->nkey_seed_file && cfg->creds_file) {
        snprintf(err, errlen, "nats: nkey_seed_file and creds_file cannot both be set");
        return -1;
    }
    if (cfg->user)
        s = natsOptions_SetUserInfo(opts, cfg->user, cfg->password ? cfg->password : "");
    if (s == NATS_OK && cfg->token)
        s = natsOptions_SetToken(opts, cfg->token);
    if (s == NATS_OK && cfg->creds_file)
        s = natsOptions_SetUserCredentialsFromFiles(opts, cfg->creds_file, NULL);
    if (s != NATS_OK) {
        snprintf(err, errlen, "nats: auth options: %s", errtext(s));
        return -1;
    }
    if (cfg->nkey_seed_file) {
        char pub[64];
        if (nkey_public_from_file(cfg->nkey_seed_file, pub, sizeof(pub), err, errlen) != 0)
            return -1;
        s = natsOptions_SetNKeyFromSeed(opts, pub, cfg->nkey_seed_file);
        if (s != NATS_OK) {
            snprintf(err, errlen, "nats: nkey_seed_file %s: %s", cfg->nkey_seed_file,
                     natsStatus_GetText(s));
            return -1;
        }
    }
    return 0;
}

static int
set_tls(natsOptions *opts, const cfg_nats *cfg, char *err, size_t errlen)
{
    if (!cfg->tls_ca && !cfg->tls_cert && !cfg->tls_key && !cfg->tls_hostname)
        return 0;
    if (!cfg->tls_cert != !cfg->tls_key) {
        snprintf(err, errlen, "nats: tls_cert and tls_key must be given together");
        return -1;
    }
    const char *what = "enable TLS";
    natsStatus s = natsOptions_SetSecure(opts, true);
    if (s == NATS_OK && cfg->tls_ca) {
        what = cfg->tls_ca;
        s = natsOptions_LoadCATrustedCertificates(opts, cfg->tls_ca);
    }
    if (s == NATS_OK && cfg->tls_cert) {
        what = cfg->tls_cert;
        s = natsOptions_LoadCertificatesChain(opts, cfg->tls_cert, cfg->tls_key);
    }
    if (s == NATS_OK && cfg->tls_hostname) {
        what = "tls_hostname";
        s = natsOptions_SetExpectedHostname(opts, cfg->tls_hostname);
    }
    if (s != NATS_OK) {
        /* The text names files, never key material. */
        snprintf(err, errlen, "nats: TLS (%s): %s", what, errtext(s));
        return -1;
    }
    return 0;
}

int
natscli_set_options(natsOptions *opts, const cfg_nats *c, char *err, size_t errlen)
{
    const char *def = NATSCLI_DEFAULT_URL;
    const char **servers = c->nservers ? (const char **)c->servers : &def;
    int n = c->nservers ? (int)c->nservers : 1;
    natsStatus s = natsOptions_SetServers(opts, servers, n);
    if (s != NATS_OK) {
        snprintf(err, errlen, "nats: servers: %s", errtext(s));
        return -1;
    }
    if (set_auth(opts, c, err, errlen) != 0)
        return -1;
    return set_tls(opts, c, err, errlen);
}
