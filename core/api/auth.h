/* SPDX-License-Identifier: MIT */
/* The admin's credentials and Basic auth (core/api/auth.c). */
#pragma once

#include <stdbool.h>

#include "core/base/error.h"
#include "core/sfaasd.h"

int auth_ensure_credentials(const char *data_dir, char **ret_password, bool *ret_created, struct sf_err *err);
bool auth_check_basic(const struct sfaasd *sf, const struct http_request *req);
void auth_respond_unauthorized(struct http_request *req);
