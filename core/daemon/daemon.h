/* SPDX-License-Identifier: MIT */
/* The daemon's lifecycle (core/daemon/daemon.c). */
#pragma once

#include "core/sfaasd.h"

/* Start everything; run the loop until shutdown. */
int sfaasd_run(struct sfaasd_config *cfg);
