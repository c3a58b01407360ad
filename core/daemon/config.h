/* SPDX-License-Identifier: MIT */
/*
 * The configuration: one table of keys with their defaults, units and
 * ranges (core/daemon/config.c); struct sfaasd_config itself is in
 * core/sfaasd.h, where every layer reads it.
 */
#pragma once

#include "core/base/error.h"
#include "core/sfaasd.h"

/* Fill cfg with the embedded defaults (the values `make run` uses). */
void config_defaults(struct sfaasd_config *cfg);
/* Apply a JSON config file; unknown keys and wrong types are errors. */
int config_load_file(struct sfaasd_config *cfg, const char *path, struct sf_err *err);
/* Print the effective configuration as JSON (for --print-config). */
char *config_to_json(const struct sfaasd_config *cfg);
