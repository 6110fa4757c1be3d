/*
 * cli.h - the `axon` subcommands other than `serve` (main.c): each takes
 * its own argv (after the command word), prints to stdout/stderr and
 * returns a process exit code.
 */
#ifndef AXON_CLI_H
#define AXON_CLI_H

#include <stdbool.h>

#include "axon/ctx.h"
#include "axon/db.h"

int cli_tenant(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_apikey(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_pack(int argc, char **argv);

/* Check, store and (with publish) publish a pack folder or archive for the
 * context's tenant; prints what happened. 0 or -1. */
int cli_pack_upload(struct db *d, const struct ax_ctx *c, const char *path, bool publish);

/* Helpers for subcommands. */
const char *cli_arg(int argc, char **argv, const char *flag);   /* value after --flag */
struct db *cli_open(void);                                       /* prints errors */
/* Context for --tenant (slug or id) acting as the CLI; prints errors. */
int cli_tenant_ctx(struct db *d, const char *tenant, struct ax_ctx *c);

struct tenant_admin;
void cli_print_admin(const struct tenant_admin *a, const char *name);

#endif
