/*
 * test_base_thread.c -- thread roles and the affinity assertions of
 * core/base: set and adopt semantics, per-thread isolation, and that a
 * violated assertion aborts (in a child process) while a satisfied one
 * passes. The checks are forced on here whatever the build flavour.
 */
#define JW_THREAD_CHECKS 1

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"

static void
loop_only(void)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
}

static void
never_loop(void)
{
    JW_ASSERT_NOT_THREAD(JW_ROLE_LOOP);
}

/* Run fn in a child tagged `role`; returns the child's wait status. */
static int
in_child(unsigned role, void (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        /* the abort message is the point; keep it out of the test log */
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 2);
        jw_thread_set_role(role);
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static void
test_set_and_adopt(void **state)
{
    (void)state;
    jw_thread_set_role(JW_ROLE_NONE);
    jw_thread_adopt_role(JW_ROLE_CNATS);
    assert_int_equal(jw_thread_role(), JW_ROLE_CNATS);
    jw_thread_set_role(JW_ROLE_LOOP);
    jw_thread_adopt_role(JW_ROLE_CNATS); /* a callback run inline keeps the loop's role */
    assert_int_equal(jw_thread_role(), JW_ROLE_LOOP);
    jw_thread_set_role(JW_ROLE_NONE);
}

static void *
read_role(void *arg)
{
    *(unsigned *)arg = jw_thread_role();
    return NULL;
}

static void
test_role_is_per_thread(void **state)
{
    (void)state;
    jw_thread_set_role(JW_ROLE_WORKER);
    unsigned seen = 0xffu;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_role, &seen), 0);
    pthread_join(t, NULL);
    assert_int_equal(seen, JW_ROLE_NONE);
    assert_int_equal(jw_thread_role(), JW_ROLE_WORKER);
    jw_thread_set_role(JW_ROLE_NONE);
}

static void
test_assertions(void **state)
{
    (void)state;
    int st = in_child(JW_ROLE_LOOP, loop_only);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = in_child(JW_ROLE_WORKER, loop_only);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    st = in_child(JW_ROLE_NONE, loop_only); /* untagged is not the loop */
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    st = in_child(JW_ROLE_NONE, never_loop);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = in_child(JW_ROLE_LOOP, never_loop);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_adopt),
        cmocka_unit_test(test_role_is_per_thread),
        cmocka_unit_test(test_assertions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
