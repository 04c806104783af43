/* The subcommands of the `xmem` program; each takes its own argv (argv[0] is its name) and
 * returns the process exit status. */
#ifndef XMEM_CLI_COMMANDS_H
#define XMEM_CLI_COMMANDS_H

int xmemi_cmd_node(int argc, char **argv);
int xmemi_cmd_plugins(int argc, char **argv);
int xmemi_cmd_pool(int argc, char **argv);
int xmemi_cmd_validate(int argc, char **argv);
int xmemi_cmd_run(int argc, char **argv);
int xmemi_cmd_chaos(int argc, char **argv);
int xmemi_cmd_ps(int argc, char **argv);
int xmemi_cmd_top(int argc, char **argv);
int xmemi_cmd_tap(int argc, char **argv);
int xmemi_cmd_logs(int argc, char **argv);
int xmemi_cmd_keygen(int argc, char **argv);

#endif
