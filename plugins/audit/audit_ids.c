/*
 * audit_ids.c -- open-addressing hash set of strings (FNV-1a, linear
 * probing, grown at 70% load). Never shrinks: a set lives for one or two
 * segments, then the whole set is dropped.
 */
#include "audit_ids.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char *key; /* NULL: empty */
    uint64_t n;
} slot;

/* Owned by one audit_log; touched only under its mutex. */
struct audit_ids {
    slot *slots;
    size_t cap; /* a power of two */
    size_t count;
};

static uint64_t
ids_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

audit_ids *
audit_ids_new(void)
{
    audit_ids *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cap = 64;
    s->slots = calloc(s->cap, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return NULL;
    }
    return s;
}

void
audit_ids_free(audit_ids *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].key);
    free(s->slots);
    free(s);
}

static slot *
ids_find(const audit_ids *s, const char *key)
{
    size_t mask = s->cap - 1;
    for (size_t i = ids_hash(key) & mask;; i = (i + 1) & mask) {
        slot *sl = &s->slots[i];
        if (!sl->key || strcmp(sl->key, key) == 0)
            return sl;
    }
}

int
audit_ids_get(const audit_ids *s, const char *key, uint64_t *n)
{
    const slot *sl = ids_find(s, key);
    if (!sl->key)
        return 0;
    *n = sl->n;
    return 1;
}

static int
ids_grow(audit_ids *s)
{
    audit_ids bigger = {.cap = s->cap * 2, .count = s->count};
    bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
    if (!bigger.slots)
        return -ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i].key)
            *ids_find(&bigger, s->slots[i].key) = s->slots[i];
    }
    free(s->slots);
    *s = bigger;
    return 0;
}

int
audit_ids_put(audit_ids *s, const char *key, uint64_t n)
{
    if ((s->count + 1) * 10 > s->cap * 7 && ids_grow(s) != 0)
        return -ENOMEM;
    slot *sl = ids_find(s, key);
    if (!sl->key) {
        sl->key = strdup(key);
        if (!sl->key)
            return -ENOMEM;
        s->count++;
    }
    sl->n = n;
    return 0;
}

size_t
audit_ids_count(const audit_ids *s)
{
    return s->count;
}
