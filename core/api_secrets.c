/* SPDX-License-Identifier: MIT */
/* /system/secrets: arrives with the secrets store (issue 6). Until then the
 * routes say so, and a deploy naming a secret is refused (core/api.c). */
#include "core/api.h"

void api_secrets(struct http_request *req, const struct route *rt)
{
        (void) rt;
        http_respond_error(req, 501, "%s /system/secrets is not implemented yet", req->method);
}
