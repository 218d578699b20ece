/*
 * commands.h - the subcommands of duo, one file each (cmd_NAME.c).
 * The table that registers them is in duo.c.
 */
#ifndef DUO_COMMANDS_H
#define DUO_COMMANDS_H

#include "cli.h"

int cmd_convert(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_router(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_tui(int argc, char **argv);

/* Look a command up in duo.c's table (for usage messages). */
const struct command *command_find(const char *name);

#endif
