/* SPDX-License-Identifier: MIT */
/*
 * A tenant's quotas and the ceilings of one function, as data
 * (core/model/quota.c): the quota keys of the API ("functions",
 * "instances", "memory", "cpu", "pids", "imageBytes", "secrets",
 * "asyncQueued", "invokeRate", "invokeConcurrency"), a tenant's effective
 * quotas (the config's tenant_* defaults, then the tenant's overrides),
 * and the check of a FunctionDeployment against the operator's ceilings.
 * Pure: no I/O.
 */
#pragma once

#include <jansson.h>

#include "core/base/error.h"
#include "core/sfaasd.h"

/* Effective quotas: defaults, then each key of overrides_json (an object;
 * 0 means no limit). -EINVAL with a message for a malformed object. */
int tenant_quota_effective(const struct tenant_quota *defaults, const char *overrides_json,
                           struct tenant_quota *ret, struct sf_err *err);
/* Apply changes (an object: key -> number, quantity string, or null to go
 * back to the default) to overrides (an object, changed in place). -EINVAL
 * with a message naming a bad key or value. */
int tenant_quota_merge(json_t *overrides, json_t *changes, struct sf_err *err);
/* q as {"functions": N, ..., "memory": bytes, "cpu": "500m" ...}; 0 is no limit. */
json_t *tenant_quota_json(const struct tenant_quota *q);

/* Check a normalised FunctionDeployment (its limits, requests, envVars
 * exec_timeout, and the labels/annotations com.sfaasd.timeout and
 * com.openfaas.scale.max/min) against c: -E2BIG with "limits.memory
 * '64Gi' is above the ceiling of 4 GiB (function_max_memory)" in err. */
int function_check_ceilings(const struct function_ceilings *c, json_t *spec, struct sf_err *err);
