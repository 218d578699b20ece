/*
 * commands.h - the subcommands of duo, one file each (cmd_NAME.c), each
 * defining its own row of the command table: name, usage, summary,
 * option help and the function that runs it.  duo.c only lists the rows;
 * a command file never calls back into it.
 */
#ifndef DUO_COMMANDS_H
#define DUO_COMMANDS_H

#include "cli.h"

extern const struct command cmd_convert_entry;
extern const struct command cmd_export_entry;
extern const struct command cmd_findings_entry;
extern const struct command cmd_info_entry;
extern const struct command cmd_merge_entry;
extern const struct command cmd_router_entry;
extern const struct command cmd_run_entry;
extern const struct command cmd_score_entry;
extern const struct command cmd_tokenize_entry;
extern const struct command cmd_train_entry;
extern const struct command cmd_tui_entry;

#endif
