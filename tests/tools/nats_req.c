/*
 * nats_req.c -- test tool: send one core NATS request and print the reply.
 *
 *   nats_req URL SUBJECT DATA [TIMEOUT_MS]
 *
 * DATA is sent byte for byte (it may be anything, e.g. invalid JSON); the
 * reply's payload is printed with a newline, after a line
 * "Jetway-Status: N" when the reply carries that header, and after a line
 * "Reply-To: SUBJECT" when NATS_REQ_SHOW_REPLY is set and the reply has one
 * (a JetStream pull's $JS.ACK subject: the delivery count and sequences).
 * Exit 0 with a reply, 1 on a timeout, no responders or a connection error
 * (message on stderr).
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
    natsConnection *nc = NULL;
    natsMsg *reply = NULL;
    int64_t timeout = 5000;
    natsStatus s;
    int rc = 1;

    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: nats_req URL SUBJECT DATA [TIMEOUT_MS]\n");
        return 2;
    }
    if (argc == 5)
        timeout = atoll(argv[4]);
    s = natsConnection_ConnectTo(&nc, argv[1]);
    if (s == NATS_OK)
        s = natsConnection_Request(&reply, nc, argv[2], argv[3], (int)strlen(argv[3]), timeout);
    if (s == NATS_OK) {
        const char *st = NULL;
        if (natsMsgHeader_Get(reply, "Jetway-Status", &st) == NATS_OK && st)
            printf("Jetway-Status: %s\n", st);
        if (getenv("NATS_REQ_SHOW_REPLY") && natsMsg_GetReply(reply))
            printf("Reply-To: %s\n", natsMsg_GetReply(reply));
        fwrite(natsMsg_GetData(reply), 1, (size_t)natsMsg_GetDataLength(reply), stdout);
        printf("\n");
        rc = 0;
    } else {
        fprintf(stderr, "nats_req: %s: %s\n", argv[2], natsStatus_GetText(s));
    }
    natsMsg_Destroy(reply);
    natsConnection_Destroy(nc);
    nats_Close();
    return rc;
}
