/*
 * cmd -- the subcommands of the jetway binary. Each lives in its own file
 * (cmd_<name>.c) and is dispatched by main.c. A command gets argv with
 * argv[0] = its own name, prints its own --help, and returns the process
 * exit status (0 ok, 1 failure, 2 usage error).
 */
#ifndef JW_CMD_H
#define JW_CMD_H

int cmd_run(int argc, char **argv);       /* cmd_run.c: host a topology */
int cmd_check(int argc, char **argv);     /* cmd_check.c: validate, print normalized */
int cmd_provision(int argc, char **argv); /* cmd_provision.c: create/update streams+consumers */
int cmd_version(int argc, char **argv);   /* main.c */
int cmd_dlq(int argc, char **argv);       /* cmd_dlq.c: ls, show, replay */
int cmd_pub(int argc, char **argv);       /* cmd_pub.c: publish test messages */
int cmd_reload(int argc, char **argv);    /* cmd_reload.c: SIGHUP by pid file, wait outcome */
int cmd_plugin(int argc, char **argv);    /* cmd_plugin.c: describe a plugin .so */
int cmd_consumer(int argc, char **argv);  /* cmd_consumer.c: pause/resume by pid file */

/* Shared option helper: true when argv has -h or --help. */
int cmd_wants_help(int argc, char **argv);

#endif /* JW_CMD_H */
