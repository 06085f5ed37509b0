/*
 * dlq_find.c -- see dlq_find.h. cnats 3.4.1 cannot pass the server-side
 * `subject` filter of STREAM.NAMES, so every stream's info is listed and
 * matched here; a topology has few streams.
 */
#include "nats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int
dlq_subject_matches(const char *pattern, const char *subject)
{
    const char *p = pattern, *s = subject;
    while (*p && *s) {
        size_t pl = strcspn(p, "."), sl = strcspn(s, ".");
        if (pl == 1 && p[0] == '>')
            return p[1] == '\0'; /* '>' matches one or more remaining tokens */
        if (!(pl == 1 && p[0] == '*') && (pl != sl || strncmp(p, s, pl) != 0))
            return 0;
        p += pl;
        s += sl;
        if (*p != *s) /* one ended, the other has more tokens */
            return 0;
        if (*p) {
            p++;
            s++;
        }
    }
    return *p == '\0' && *s == '\0';
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void
dlq_names_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int
dlq_streams_capturing(jsCtx *js, const char *subject, char ***names, size_t *n, char *err,
                      size_t errlen)
{
    *names = NULL;
    *n = 0;
    jsStreamInfoList *list = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_Streams(&list, js, NULL, &jerr);
    if (s == NATS_NOT_FOUND)
        return 0; /* no streams at all */
    if (s != NATS_OK) {
        snprintf(err, errlen, "list streams: %s", natsconn_errtext(s));
        return -1;
    }
    char **v = calloc((size_t)list->Count + 1, sizeof(char *));
    size_t k = 0;
    for (int i = 0; v && i < list->Count; i++) {
        const jsStreamConfig *c = list->List[i]->Config;
        for (int j = 0; j < c->SubjectsLen; j++) {
            if (dlq_subject_matches(c->Subjects[j], subject)) {
                v[k++] = strdup(c->Name);
                break;
            }
        }
    }
    jsStreamInfoList_Destroy(list);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    qsort(v, k, sizeof(char *), cmp_str);
    *names = v;
    *n = k;
    return 0;
}
