/*
 * failpoint.h -- crash windows for the fault tests, compiled into test
 * builds only (make FAILPOINTS=1). FAILPOINT("after_claim") kills the
 * process with SIGKILL semantics (_exit without cleanup, like kill -9) when
 * the environment variable JW_FAILPOINT names that point; JW_FAILPOINT_SKIP=N
 * lets the first N hits pass, so a test can crash in the middle of a run.
 * In production builds the macro compiles to nothing.
 */
#ifndef JW_FAILPOINT_H
#define JW_FAILPOINT_H

#ifdef JW_FAILPOINTS
void failpoint_hit(const char *name);
#define FAILPOINT(name) failpoint_hit(name)
#else
#define FAILPOINT(name) ((void)0)
#endif

#endif /* JW_FAILPOINT_H */
