/* SPDX-License-Identifier: MIT */
/* GET /metrics: arrives with issue 6. */
#include "core/api.h"

void api_metrics(struct http_request *req, const struct route *rt)
{
        (void) rt;
        http_respond_error(req, 501, "metrics are not implemented yet");
}
