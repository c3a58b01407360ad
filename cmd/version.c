/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cmd/commands.h"

int cmd_version(int argc, char **argv)
{
        printf("sfaasd %s (%s)\n", SFAASD_VERSION, SFAASD_GIT_SHA);
        return 0;
}
