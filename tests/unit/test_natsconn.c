/* test_natsconn.c -- reconnect backoff, secret redaction, NKey derivation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nats/nats.h"
#include "nats/nkey_int.h"

static void
backoff_grows_and_caps(void **state)
{
    (void)state;
    /* rnd = 0 gives the lower bound (half the delay). */
    assert_int_equal(natsconn_backoff_ms(250, 5000, 1, 0), 125);
    assert_int_equal(natsconn_backoff_ms(250, 5000, 2, 0), 250);
    assert_int_equal(natsconn_backoff_ms(250, 5000, 3, 0), 500);
    assert_int_equal(natsconn_backoff_ms(250, 5000, 30, 0), 2500);
    /* rnd at the top of the range gives the full delay. */
    assert_int_equal(natsconn_backoff_ms(250, 5000, 30, 2500), 5000);
    for (uint32_t r = 0; r < 100000; r += 997) {
        int64_t d = natsconn_backoff_ms(250, 5000, 7, r);
        assert_true(d >= 2500 && d <= 5000);
    }
}

static void
redact_hides_secrets(void **state)
{
    (void)state;
    cfg_nats c;
    memset(&c, 0, sizeof(c));
    c.password = (char *)"hunter2";
    c.token = (char *)"tok-123";
    char out[256];
    natsconn_redact(&c, "connect nats://bob:hunter2@h:4222 auth tok-123 and hunter2", out,
                    sizeof(out));
    assert_null(strstr(out, "hunter2"));
    assert_null(strstr(out, "tok-123"));
    assert_null(strstr(out, "bob"));
    assert_string_equal(out, "connect nats://<redacted>@h:4222 auth <redacted> and <redacted>");
    natsconn_redact(&c, "nats://h:4222 fine", out, sizeof(out));
    assert_string_equal(out, "nats://h:4222 fine");
}

static void
nkey_public_of_seed(void **state)
{
    (void)state;
    char pub[64];
    /* The pair from the NATS documentation. */
    assert_int_equal(
        nkey_public_from_seed("SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY", pub,
                              sizeof(pub)),
        0);
    assert_string_equal(pub, "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4");
    /* One character in the key changed: the CRC fails. */
    assert_int_equal(
        nkey_public_from_seed("SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYZCU3VY", pub,
                              sizeof(pub)),
        -1);
    assert_int_equal(nkey_public_from_seed("SUshort", pub, sizeof(pub)), -1);
}

/* The kinds /readyz and the start-up decision use, from real cnats texts. */
static void
failure_kinds(void **state)
{
    (void)state;
    assert_int_equal(natsconn_failure_kind("nats: connect to nats://127.0.0.1:4222: (conn.c:1905): "
                                           "Authorization Violation"),
                     NATSCONN_FAIL_AUTH);
    assert_int_equal(natsconn_failure_kind("nats: connect to nats://h:1: (conn.c:2088): No server "
                                           "available for connection"),
                     NATSCONN_FAIL_UNREACHABLE);
    assert_int_equal(
        natsconn_failure_kind("nats: connect to tls://h:1: (conn.c:740): SSL handshake "
                              "error: certificate verify failed"),
        NATSCONN_FAIL_TLS);
    assert_int_equal(natsconn_failure_kind("nats: TLS (/x/ca.crt): error loading file"),
                     NATSCONN_FAIL_TLS);
    assert_int_equal(natsconn_failure_kind("something else"), NATSCONN_FAIL_OTHER);
    assert_string_equal(natsconn_failure_name(NATSCONN_FAIL_AUTH), "authorization refused");
    assert_string_equal(natsconn_failure_name(NATSCONN_FAIL_NO_JETSTREAM), "JetStream not enabled");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_grows_and_caps),
        cmocka_unit_test(redact_hides_secrets),
        cmocka_unit_test(nkey_public_of_seed),
        cmocka_unit_test(failure_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
